import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";

/** A generated service descriptor and the object implementing it. */
export interface ServiceBinding {
  readonly service: DescService;
  readonly impl: Partial<ServiceImpl<DescService>>;
}

/** Binds an implementation to its descriptor; a missing or mistyped method is a compile error. */
export function bindService<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceBinding {
  return { service, impl: impl as Partial<ServiceImpl<DescService>> };
}
