// Injection tokens: symbols, so no two providers can collide by name.
export const EVENTS = Symbol("notes events");
