/** DI tokens of the payments service. */
export const PAYMENT_READS = Symbol("payments.reads");
export const CHARGE_HANDLERS = Symbol("payments.charge-handlers");
