import { randomBytes } from 'node:crypto';
import { AggregateRoot } from '@pay/aggregate';

/**
 * A catalog product: the shop's price for it, never the customer's. Orders copy name and price at the
 * moment they are placed, so a later change here never changes an order.
 */
export interface Product {
  id: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  /** Only active products can be ordered; customers see only these. */
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewProduct {
  id?: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  active: boolean;
}

export interface ProductChanges {
  name?: string;
  unitPriceMinor?: number;
  active?: boolean;
}

/** `p_` + 16 hex digits: inside the product id format (letters, digits, _ and -). */
export function newProductId(): string {
  return `p_${randomBytes(8).toString('hex')}`;
}

/** A product changes only through `change`, saved with a versioned write like every aggregate. */
export class ProductAggregate extends AggregateRoot<Product> {
  private constructor(state: Product, version: number) {
    super(state, version);
  }

  static rehydrate(state: Product, version: number): ProductAggregate {
    return new ProductAggregate(state, version);
  }

  static create(input: NewProduct, now = new Date()): ProductAggregate {
    const { id = newProductId(), name, unitPriceMinor, currency, active } = input;
    return new ProductAggregate({ id, name, unitPriceMinor, currency, active, createdAt: now, updatedAt: now }, 0);
  }

  /** Applies the fields given; the same values again change nothing (no write, no new version). */
  change(changes: ProductChanges, now = new Date()): void {
    const next = { ...this.current };
    if (changes.name !== undefined) next.name = changes.name;
    if (changes.unitPriceMinor !== undefined) next.unitPriceMinor = changes.unitPriceMinor;
    if (changes.active !== undefined) next.active = changes.active;
    const same = next.name === this.current.name && next.unitPriceMinor === this.current.unitPriceMinor && next.active === this.current.active;
    if (same) return;
    this.current = { ...next, updatedAt: now };
    this.recordChange();
  }
}
