import { createClient, type ClientOptions } from "@protomesh/clients";
import { NotesService } from "../gen/notes/v1/notes_pb.js";

/**
 * A typed NotesService client over gRPC: `target` is "host:port" or a list of replicas
 * (balanced), with the toolkit's retries, deadlines and circuit breakers at their defaults.
 */
export function createNotesClient(target: string | readonly string[], options: Omit<ClientOptions, "target"> = {}) {
  return createClient(NotesService, { ...options, target });
}
