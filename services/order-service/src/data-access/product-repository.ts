import { findPage, isDuplicateKeyError, writeIfCurrent } from '@pay/db';
import { DuplicateProduct } from '../domain/catalog-use-cases';
import { ProductAggregate, type Product } from '../domain/product';
import type { ProductStore } from '../domain/product-store';
import type { ProductDocument, ProductModel } from './product-model';

/** The only place that talks to the products collection. */
export class ProductRepository implements ProductStore {
  constructor(private readonly model: ProductModel) {}

  async insert(product: ProductAggregate): Promise<void> {
    try {
      await this.model.collection.insertOne({ ...documentOf(product.state), version: 1 } as never);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new DuplicateProduct(product.id);
      throw error;
    }
  }

  async load(id: string): Promise<ProductAggregate | null> {
    const document = await this.model.collection.findOne({ _id: id as never });
    return document ? ProductAggregate.rehydrate(toProduct(document as unknown as ProductDocument), (document.version as number | undefined) ?? 0) : null;
  }

  /** One write, only if the stored version is still the one the change was decided on; null otherwise. */
  async save(product: ProductAggregate): Promise<ProductAggregate | null> {
    const { _id, ...state } = documentOf(product.state);
    const written = await writeIfCurrent(`products/${_id}`, () =>
      this.model.collection.findOneAndUpdate(
        { _id: _id as never, version: product.version },
        { $set: { ...state, version: product.version + 1 } },
        { returnDocument: 'after' }, // no projection: FerretDB v1's findAndModify does not support `fields`
      ),
    );
    return written ? ProductAggregate.rehydrate(toProduct(written as unknown as ProductDocument), product.version + 1) : null;
  }

  async findByIds(ids: readonly string[]): Promise<Product[]> {
    if (ids.length === 0) return [];
    const documents = await this.model.find({ _id: { $in: ids } }).lean<ProductDocument[]>();
    return documents.map(toProduct);
  }

  async list(filter: { activeOnly: boolean }, page: number, pageSize: number): Promise<{ items: Product[]; count: number }> {
    const { documents, count } = await findPage<ProductDocument>(this.model, filter.activeOnly ? { active: true } : {}, page, pageSize, { _id: 1 });
    return { items: documents.map(toProduct), count };
  }
}

function documentOf(product: Product): Omit<ProductDocument, 'version'> {
  return {
    _id: product.id,
    name: product.name,
    unit_price_minor: product.unitPriceMinor,
    currency: product.currency,
    active: product.active,
    created_at: product.createdAt,
    updated_at: product.updatedAt,
  };
}

function toProduct(document: ProductDocument): Product {
  return {
    id: document._id,
    name: document.name,
    unitPriceMinor: document.unit_price_minor,
    currency: document.currency,
    active: document.active,
    createdAt: new Date(document.created_at),
    updatedAt: new Date(document.updated_at),
  };
}
