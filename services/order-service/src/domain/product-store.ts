import type { AggregateRepository } from '@pay/aggregate';
import type { Product, ProductAggregate } from './product';

/** What placing an order needs of the catalog. */
export interface PriceList {
  /** The products with these ids that exist (active or not), in any order. */
  findByIds(ids: readonly string[]): Promise<Product[]>;
}

export interface ProductStore extends AggregateRepository<ProductAggregate>, PriceList {
  /** Throws DuplicateProduct when the id is taken. */
  insert(product: ProductAggregate): Promise<void>;
  /** By id, ascending; `activeOnly` hides products that cannot be ordered. */
  list(filter: { activeOnly: boolean }, page: number, pageSize: number): Promise<{ items: Product[]; count: number }>;
}
