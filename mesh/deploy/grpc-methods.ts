import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_PATH } from '../server/reflection.js';

/** A gRPC method of the wire contract, as an HTTP/2 path. */
export interface GrpcMethod {
  /** "pkg.Service/Method", the form policies use. */
  name: string;
  /** "/pkg.Service/Method", the form Istio matches. */
  path: string;
  /** Server streams (Watch, SubscribeTask...) outlive any per-call timeout. */
  serverStreaming: boolean;
}

/** Every method of every service in the descriptor set `npm run generate` builds (gen/descriptors.binpb). */
export function grpcMethods(descriptorSetPath = DESCRIPTOR_SET_PATH): GrpcMethod[] {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  const methods: GrpcMethod[] = [];
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        const name = `${service.typeName}/${method.name}`;
        methods.push({ name, path: `/${name}`, serverStreaming: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming' });
      }
    }
  }
  return methods.sort((a, b) => a.name.localeCompare(b.name));
}

/** The methods a policy method pattern ("pkg.Service/Method", "pkg.Service/*" or "*") names, as the policy matches them. */
export function methodsMatching(pattern: string, all: readonly GrpcMethod[]): GrpcMethod[] {
  if (pattern === '*') return [...all];
  if (pattern.endsWith('/*')) return all.filter((m) => m.name.startsWith(pattern.slice(0, -1)));
  return all.filter((m) => m.name === pattern);
}
