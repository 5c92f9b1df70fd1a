/**
 * The public operations the fuzzer attacks, read from the OpenAPI document the api-gateway serves
 * (`/api/v1/openapi.json`): a route added to the document is fuzzed without touching the fuzzer.
 */
export interface FieldShape {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'unknown';
  example?: unknown;
  enum?: readonly unknown[];
  /** For an array of objects: the item's fields (an order's items). */
  items?: readonly FieldShape[];
}

export interface Operation {
  method: string;
  /** The document's path, relative to the API base, with `{id}` parameters. */
  path: string;
  roles: readonly string[];
  pathParams: readonly string[];
  queryParams: readonly FieldShape[];
  headerParams: readonly string[];
  /** null: the operation takes no body. */
  body: { required: boolean; fields: readonly FieldShape[] } | null;
}

interface SchemaObject {
  $ref?: string;
  type?: string;
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  example?: unknown;
  enum?: unknown[];
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  allOf?: SchemaObject[];
}
interface ParameterObject {
  in: string;
  name: string;
  schema?: SchemaObject;
}
interface OperationObject {
  description?: string;
  parameters?: ParameterObject[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: SchemaObject }> };
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const ALL_ROLES = ['customer', 'admin', 'auditor'];

/** Every operation of the document but the document itself, in the document's order. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const resolve = (schema: SchemaObject | undefined, depth = 0): SchemaObject => {
    if (!schema || depth > 8) return {};
    if (schema.$ref) return resolve(document.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')], depth + 1);
    const union = schema.allOf ?? schema.anyOf ?? schema.oneOf;
    if (!schema.type && !schema.properties && union?.length) return resolve(union[0], depth + 1);
    return schema;
  };
  const shapeOf = (name: string, raw: SchemaObject | undefined): FieldShape => {
    const schema = resolve(raw);
    const type = (['string', 'integer', 'number', 'boolean', 'array', 'object'] as const).find((known) => known === schema.type) ?? 'unknown';
    const items = type === 'array' ? resolve(schema.items) : undefined;
    return {
      name,
      type,
      ...(schema.example !== undefined ? { example: schema.example } : {}),
      ...(schema.enum ? { enum: schema.enum } : {}),
      ...(items?.properties ? { items: Object.entries(items.properties).map(([field, value]) => shapeOf(field, value)) } : {}),
    };
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    if (path === '/openapi.json') continue;
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      // The gateway's document names the roles in each description ("Roles: customer, admin.").
      const roles = /Roles: ([a-z, ]+)\./.exec(operation.description ?? '')?.[1]?.split(',').map((role) => role.trim()) ?? ALL_ROLES;
      const parameters = operation.parameters ?? [];
      const bodySchema = resolve(operation.requestBody?.content?.['application/json']?.schema);
      operations.push({
        method: method.toUpperCase(),
        path,
        roles,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => shapeOf(p.name, p.schema)),
        headerParams: parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()),
        body: operation.requestBody
          ? { required: operation.requestBody.required === true, fields: Object.entries(bodySchema.properties ?? {}).map(([name, value]) => shapeOf(name, value)) }
          : null,
      });
    }
  }
  return operations;
}
