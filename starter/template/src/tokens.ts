// Injection tokens: symbols, so no two providers can collide by name.
export const DATABASE = Symbol("notes database");
export const EVENTS = Symbol("notes events");
