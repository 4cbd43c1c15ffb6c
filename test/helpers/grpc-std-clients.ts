import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { Client, credentials } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthService } from '../../gen/grpc/health/v1/health.js';
import {
  ServerReflectionService,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../../gen/grpc/reflection/v1/reflection.js';
import { createClient } from '../../mesh/index.js';

/** Asks grpc.health.v1.Health/Check for a service ('' = the whole server); returns the status name. */
export async function healthStatus(address: string, service = ''): Promise<string> {
  const client = createClient(HealthService, address, {
    credentials: credentials.createInsecure(),
    defaultDeadlineMs: 2_000,
  });
  try {
    const { status } = await client.check({ service });
    return HealthCheckResponse_ServingStatus[status];
  } finally {
    client.close();
  }
}

/** Sends one request over grpc.reflection.v1 ServerReflectionInfo (what grpcurl does) and returns the answer. */
export async function reflect(
  address: string,
  messageRequest: ServerReflectionRequest['messageRequest'],
): Promise<ServerReflectionResponse['messageResponse']> {
  const client = new Client(address, credentials.createInsecure());
  const def = ServerReflectionService.serverReflectionInfo;
  try {
    return await new Promise((resolve, reject) => {
      const stream = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
      stream.on('data', (answer: ServerReflectionResponse) => {
        resolve(answer.messageResponse);
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ host: '', messageRequest });
    });
  } finally {
    client.close();
  }
}

/** Decodes the file descriptors of a reflection answer; throws with the error answer otherwise. */
export function decodeFiles(answer: ServerReflectionResponse['messageResponse']): FileDescriptorProto[] {
  if (answer?.$case !== 'fileDescriptorResponse') throw new Error(`reflection answered ${JSON.stringify(answer)}`);
  return answer.fileDescriptorResponse.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}
