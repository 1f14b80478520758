import type { DescMessage } from "@bufbuild/protobuf";
import { Injectable } from "@nestjs/common";
import type { Executor } from "@protomesh/data";
import { type EventToWrite, writeEvent } from "../outbox/writer.js";

/**
 * Writes events to the outbox of the service's database, in the caller's transaction: the
 * event is published by the relay only if that transaction commits.
 */
@Injectable()
export class Outbox {
  /** Stores `input.event` in `tx` (a transaction of the module's database) and returns its event id. */
  write<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>): Promise<string> {
    return writeEvent(tx, input);
  }
}
