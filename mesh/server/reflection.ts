import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, toBinary, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { Server, ServerDuplexStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  ServerReflectionService as V1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../../gen/grpc/reflection/v1/reflection.js';
import { ServerReflectionService as V1Alpha } from '../../gen/grpc/reflection/v1alpha/reflection.js';

/** The descriptor set `npm run generate` builds with buf: real file names, imports and comments. */
export const DESCRIPTOR_SET_PATH = fileURLToPath(new URL('../../gen/descriptors.binpb', import.meta.url));

let registry: FileRegistry | undefined;

function descriptors(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET_PATH)));
  return registry;
}

/** A file and everything it imports, transitively, each once (what grpcurl needs to link it). */
function withDependencies(file: DescFile): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    out.push(Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

/** Finds the file declaring a fully qualified symbol: a type, a service, or a method or field within one. */
function fileOfSymbol(reg: FileRegistry, symbol: string): DescFile | undefined {
  for (let name = symbol; name.includes('.'); name = name.slice(0, name.lastIndexOf('.'))) {
    const desc = reg.get(name);
    if (desc)
      return desc.kind === 'service' || desc.kind === 'message' || desc.kind === 'enum' || desc.kind === 'extension'
        ? desc.file
        : undefined;
  }
  return undefined;
}

function answer(request: ServerReflectionRequest, services: string[]): ServerReflectionResponse['messageResponse'] {
  const reg = descriptors();
  const notFound = (what: string) => ({
    $case: 'errorResponse' as const,
    errorResponse: { errorCode: status.NOT_FOUND, errorMessage: `${what} not found` },
  });
  const files = (file: DescFile | undefined, what: string) =>
    file
      ? {
          $case: 'fileDescriptorResponse' as const,
          fileDescriptorResponse: { fileDescriptorProto: withDependencies(file) },
        }
      : notFound(what);
  const req = request.messageRequest;
  switch (req?.$case) {
    case 'listServices':
      return { $case: 'listServicesResponse', listServicesResponse: { service: services.map((name) => ({ name })) } };
    case 'fileByFilename':
      return files(reg.getFile(req.fileByFilename), `file ${req.fileByFilename}`);
    case 'fileContainingSymbol':
      return files(fileOfSymbol(reg, req.fileContainingSymbol), `symbol ${req.fileContainingSymbol}`);
    case 'fileContainingExtension':
    case 'allExtensionNumbersOfType': {
      // The contract declares no extensions.
      const type =
        req.$case === 'allExtensionNumbersOfType'
          ? req.allExtensionNumbersOfType
          : req.fileContainingExtension.containingType;
      if (req.$case === 'allExtensionNumbersOfType' && reg.getMessage(type)) {
        return {
          $case: 'allExtensionNumbersResponse',
          allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [] },
        };
      }
      return notFound(`extension of ${type}`);
    }
    default:
      return {
        $case: 'errorResponse',
        errorResponse: { errorCode: status.UNIMPLEMENTED, errorMessage: 'unknown request' },
      };
  }
}

function handler(services: string[]) {
  return (stream: ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) => {
    stream.on('data', (request: ServerReflectionRequest) =>
      stream.write({ validHost: request.host, originalRequest: request, messageResponse: answer(request, services) }),
    );
    stream.on('end', () => stream.end());
  };
}

/**
 * Adds gRPC server reflection (v1 and v1alpha, as grpcurl uses) listing those
 * of the given services it can describe, and returns the others. Descriptors
 * come from the buf-built descriptor set, since ts-proto output carries none;
 * a service served from another package's generated code (the A2A SDK's
 * A2AService) has none there, and listing it would only make grpcurl fail on it.
 */
export function addReflection(server: Pick<Server, 'addService'>, services: string[]): { undescribed: string[] } {
  const reg = descriptors();
  const listed = services.filter((name) => reg.getService(name));
  // v1alpha's messages are wire-identical to v1's; only the service name differs.
  server.addService(V1, { serverReflectionInfo: handler(listed) });
  server.addService(V1Alpha, { serverReflectionInfo: handler(listed) as never });
  return { undescribed: services.filter((name) => !listed.includes(name)) };
}
