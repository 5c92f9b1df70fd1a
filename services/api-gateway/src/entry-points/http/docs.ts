import { Router } from 'express';
import { contentSecurityPolicy } from 'helmet';
import swaggerUi from 'swagger-ui-express';
import { OPENAPI_PATH } from './openapi';

/**
 * Swagger UI's page loads its bundle, stylesheet and init script from /docs and sets inline styles, then
 * fetches the document from this origin. The app-wide helmet policy stays strict everywhere else; this
 * one replaces it for /docs only: scripts from 'self' only (no inline script, no eval), inline styles
 * and data: images allowed, not framable, and no upgrade-insecure-requests (a plain-HTTP dev gateway).
 */
const swaggerUiPolicy = contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

/** GET /docs: Swagger UI over the public OpenAPI document (no authentication; "Try it out" needs a token). */
export function apiDocsRoutes(): Router {
  const router = Router();
  const page = swaggerUi.setup(undefined, {
    // A fixed document URL: the page ignores a `?url=` pointing it at someone else's document.
    swaggerUrl: OPENAPI_PATH,
    customSiteTitle: 'Payments API',
    swaggerOptions: { validatorUrl: null, persistAuthorization: false },
  });
  router.use(swaggerUiPolicy);
  // /docs redirects to /docs/ (the page's asset links are relative), then the page, its init script and assets.
  router.use(swaggerUi.serve);
  router.get('/', page);
  return router;
}
