import type { DescMessage } from "@bufbuild/protobuf";
import { Injectable } from "@nestjs/common";
import type { Executor } from "@protomesh/data";
import { type EventToWrite, writeEvent, type WriteEventOptions } from "../outbox/writer.js";

/**
 * Writes events to the outbox of the service's database, in the caller's transaction: the
 * event is published by the relay only if that transaction commits.
 */
@Injectable()
export class Outbox {
  /**
   * Stores `input.event` in `tx` (a transaction of the module's database) and returns its event
   * id; `options.alongside` sends other independent writes of the step in the same statement.
   */
  write<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>, options?: WriteEventOptions): Promise<string> {
    return writeEvent(tx, input, options);
  }
}
