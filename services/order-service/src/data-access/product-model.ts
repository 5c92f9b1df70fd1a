import { Schema, type Connection } from 'mongoose';

export interface ProductDocument {
  _id: string;
  name: string;
  unit_price_minor: number;
  currency: string;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  /** Every write adds one (see @pay/db versioned-write): a change decided on an older version is refused. */
  version: number;
}

const productSchema = new Schema<ProductDocument>(
  {
    _id: { type: String },
    name: { type: String, required: true },
    unit_price_minor: { type: Number, required: true, min: 0 },
    currency: { type: String, required: true },
    active: { type: Boolean, required: true },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    version: { type: Number, required: true },
  },
  { collection: 'products', versionKey: false, minimize: false },
);
// What customers list: the active products, by id.
productSchema.index({ active: 1, _id: 1 });

export function productModel(connection: Connection) {
  return connection.model<ProductDocument>('Product', productSchema);
}
export type ProductModel = ReturnType<typeof productModel>;
