import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Inject } from "@nestjs/common";
import type { Database } from "@protomesh/data";
import { InjectDatabase, Outbox } from "@protomesh/messaging/nest";
import { ConnectService } from "@protomesh/server/nest";
import { noteCreatedSubject, type EventsConfig } from "./config.js";
import { NoteCreatedSchema, NoteSchema, NotesService, type CreateNoteRequest } from "../gen/notes/v1/notes_pb.js";
import { notes } from "./schema.js";
import { EVENTS } from "./tokens.js";

// Typed by the generated descriptor: a missing or mistyped method does not compile. Requests that
// break the contract's buf.validate rules are rejected before a method runs.
@ConnectService(NotesService)
export class NotesController implements ServiceImpl<typeof NotesService> {
  constructor(
    @InjectDatabase() private readonly database: Database,
    private readonly outbox: Outbox,
    @Inject(EVENTS) private readonly events: EventsConfig,
  ) {}

  // The note and its event are written in one transaction: the event exists if and only if the
  // note does, and the outbox relay publishes it after the commit.
  async createNote(req: CreateNoteRequest) {
    const note = await this.database.db.transaction(async (tx) => {
      const [row] = await tx.insert(notes).values({ title: req.title, body: req.body }).returning();
      const note = create(NoteSchema, { noteId: row!.id, title: row!.title, body: row!.body });
      await this.outbox.write(tx, {
        aggregateType: "note",
        aggregateId: note.noteId,
        schema: NoteCreatedSchema,
        event: create(NoteCreatedSchema, { eventId: `note-created-${note.noteId}`, note }),
        subject: noteCreatedSubject(this.events),
      });
      return note;
    });
    return { note };
  }
}
