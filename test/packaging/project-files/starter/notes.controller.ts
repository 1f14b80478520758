// The starter's controller after a user added GetNote to the contract (test/packaging/starter.test.ts
// writes it over src/notes.controller.ts once `npm run generate` has run).
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Inject } from "@nestjs/common";
import type { Database } from "@protomesh/data";
import { writeEvent } from "@protomesh/messaging";
import { NotFoundError } from "@protomesh/server";
import { ConnectService } from "@protomesh/server/nest";
import { eq } from "drizzle-orm";
import { noteCreatedSubject, type EventsConfig } from "./config.js";
import { NoteCreatedSchema, NoteSchema, NotesService, type CreateNoteRequest, type GetNoteRequest } from "../gen/notes/v1/notes_pb.js";
import { notes } from "./schema.js";
import { DATABASE, EVENTS } from "./tokens.js";

@ConnectService(NotesService)
export class NotesController implements ServiceImpl<typeof NotesService> {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(EVENTS) private readonly events: EventsConfig,
  ) {}

  async createNote(req: CreateNoteRequest) {
    const note = await this.database.db.transaction(async (tx) => {
      const [row] = await tx.insert(notes).values({ title: req.title, body: req.body }).returning();
      const note = create(NoteSchema, { noteId: row!.id, title: row!.title, body: row!.body });
      await writeEvent(tx, {
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

  async getNote(req: GetNoteRequest) {
    const [row] = await this.database.db.select().from(notes).where(eq(notes.id, req.noteId));
    if (row === undefined) throw new NotFoundError(`no note ${req.noteId}`);
    return { note: create(NoteSchema, { noteId: row.id, title: row.title, body: row.body }) };
  }
}
