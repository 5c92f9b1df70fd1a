import { changeAggregate } from '@pay/aggregate';
import { Conflict, NotFound } from '@pay/errors';
import { ProductAggregate, type NewProduct, type Product, type ProductChanges } from './product';
import type { ProductStore } from './product-store';

/** The id is taken (an admin-chosen id, or a generated one that collided). */
export class DuplicateProduct extends Conflict {
  constructor(id: string) {
    super(`product ${id} already exists`, { product_id: id }, 'duplicate_product');
  }
}

/** A new catalog product (admin). An id the admin chose that is taken is refused (409), never overwritten. */
export async function addProduct(store: ProductStore, input: NewProduct): Promise<Product> {
  for (let attempt = 0; ; attempt++) {
    const product = ProductAggregate.create(input);
    try {
      await store.insert(product);
      return product.state;
    } catch (error) {
      // A generated id that collided (astronomically rare) is drawn again; a chosen one is the admin's to change.
      if (!(error instanceof DuplicateProduct) || input.id !== undefined || attempt >= 3) throw error;
    }
  }
}

/**
 * Changes a product (admin) with a versioned write: two admins (or replicas) changing it at once are
 * decided one after the other, each on the state the other left. Orders placed before keep their copy.
 */
export async function changeProduct(store: ProductStore, id: string, changes: ProductChanges): Promise<Product> {
  const { aggregate } = await changeAggregate(store, id, (product) => product.change(changes), {
    notFound: () => new NotFound(`product ${id} not found`),
    contended: () => new Conflict(`product ${id} is changing concurrently; retry`, undefined, 'concurrent_change'),
  });
  return aggregate.state;
}
