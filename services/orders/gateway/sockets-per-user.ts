// How many sockets each user holds open on this gateway replica, so that one user (one stolen or
// shared token) cannot hold unbounded sockets, each costing a snapshot read and a room member.

/** Gives back the place a socket took; calling it again does nothing. */
export type ReleaseSocket = () => void;

export interface SocketsPerUser {
  /** Takes a place for one more socket of `userId`, or returns undefined when it already has `max`. */
  admit(userId: string): ReleaseSocket | undefined;
}

export function createSocketsPerUser(max: number): SocketsPerUser {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`sockets per user must be a positive integer, got ${max}`);
  const open = new Map<string, number>();
  return {
    admit(userId) {
      const count = open.get(userId) ?? 0;
      if (count >= max) return undefined;
      open.set(userId, count + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(userId) ?? 1) - 1;
        if (left === 0) open.delete(userId);
        else open.set(userId, left);
      };
    },
  };
}
