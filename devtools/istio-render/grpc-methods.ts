import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { DESCRIPTOR_SET_PATH } from '../../mesh/index.js';

/** A gRPC method of the wire contract, as an HTTP/2 path. */
export interface GrpcMethod {
  /** "pkg.Service/Method", the form policies use. */
  name: string;
  /** "/pkg.Service/Method", the form Istio matches. */
  path: string;
  /** Server streams (Watch, SubscribeTask...) outlive any per-call timeout. */
  serverStreaming: boolean;
  /** Whether repeating the call is harmless (see IDEMPOTENT_METHODS): only those are retried after reaching the service. */
  idempotent: boolean;
}

/**
 * The methods a second attempt cannot do harm with, after the first reached
 * the service: reads (health and reflection included), and SendTask, StreamTask and InvokeTool, which are
 * idempotent by their request_id / idempotency key (the wire contract's
 * comments say so), and RegisterExternalAgent and RegisterExternalTool, upserts of a whole card. Everything else — CancelTask, ProvideInput, the
 * registry's writes, any method added later — is only retried when the
 * request never reached a service.
 */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'agentmesh.v1.AgentService/SendTask',
  'agentmesh.v1.AgentService/StreamTask',
  'agentmesh.v1.AgentService/GetTask',
  'agentmesh.v1.AgentService/SubscribeTask',
  'agentmesh.v1.AgentService/ExplainTask',
  'agentmesh.v1.AgentService/ListTasks',
  'agentmesh.v1.AgentService/GetAgentCard',
  // A2A: the reads. SendMessage is not among them: a message on a waiting task answers it, once.
  'lf.a2a.v1.A2AService/GetTask',
  'lf.a2a.v1.A2AService/ListTasks',
  'lf.a2a.v1.A2AService/SubscribeToTask',
  'lf.a2a.v1.A2AService/GetExtendedAgentCard',
  'lf.a2a.v1.A2AService/GetTaskPushNotificationConfig',
  'lf.a2a.v1.A2AService/ListTaskPushNotificationConfigs',
  'agentmesh.v1.ToolService/ListTools',
  'agentmesh.v1.ToolService/InvokeTool',
  'agentmesh.v1.RegistryService/GetAgent',
  'agentmesh.v1.RegistryService/ListAgents',
  'agentmesh.v1.RegistryService/GetToolService',
  'agentmesh.v1.RegistryService/ListToolServices',
  'agentmesh.v1.RegistryService/Discover',
  'agentmesh.v1.RegistryService/Watch',
  // An upsert of the whole card: registering the same card again changes nothing.
  'agentmesh.v1.RegistryService/RegisterExternalAgent',
  'agentmesh.v1.RegistryService/RegisterExternalTool',
  'grpc.health.v1.Health/Check',
  'grpc.health.v1.Health/List',
  'grpc.health.v1.Health/Watch',
  'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
]);

/**
 * Every method of every service in the descriptor set `npm run generate` builds (gen/descriptors.binpb),
 * and of the A2A binding every agent serves from the official SDK's generated definition (which carries
 * no descriptors).
 */
export function grpcMethods(descriptorSetPath = DESCRIPTOR_SET_PATH): GrpcMethod[] {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  const methods: GrpcMethod[] = [];
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const name = `${service.typeName}/${method.name}`;
        const serverStreaming = method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming';
        methods.push({ name, path: `/${name}`, serverStreaming, idempotent: IDEMPOTENT_METHODS.has(name) });
      }
    }
  }
  for (const method of Object.values(A2AService)) {
    const name = method.path.slice(1);
    methods.push({
      name,
      path: method.path,
      serverStreaming: method.responseStream,
      idempotent: IDEMPOTENT_METHODS.has(name),
    });
  }
  return methods.sort((a, b) => a.name.localeCompare(b.name));
}

/** The methods a policy method pattern ("pkg.Service/Method", "pkg.Service/*" or "*") names, as the policy matches them. */
export function methodsMatching(pattern: string, all: readonly GrpcMethod[]): GrpcMethod[] {
  if (pattern === '*') return [...all];
  if (pattern.endsWith('/*')) return all.filter((m) => m.name.startsWith(pattern.slice(0, -1)));
  return all.filter((m) => m.name === pattern);
}
