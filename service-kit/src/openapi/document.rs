//! What every service's document shares, added by [`Shared`]: the error schema, the bearer
//! scheme and the operational routes; and the routes that serve the document and Swagger UI.

use axum::Router;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, PartialSchema, ToSchema};

use super::schemas::{ErrorBody, status_is};
use super::{BEARER, OPERATIONS_TAG};

/// Adds what every service's document shares: the error schema, the bearer
/// scheme, and the operational routes of [`crate::http::finish`] and [`docs_routes`].
pub struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
        let mut dependencies = Vec::new();
        ErrorBody::schemas(&mut dependencies);
        components.schemas.extend(dependencies);
        components.security_schemes.insert(
            BEARER.to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from the service's `API_KEYS`, sent as \
                         `Authorization: Bearer <key>`. Business routes need one when keys \
                         are configured; `/health`, `/ready`, `/metrics`, `/openapi.json` and \
                         `/docs` never do.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in operational_paths() {
            openapi.paths.paths.insert(path.to_owned(), item);
        }
        unique_operation_ids(openapi);
        business_conventions(openapi);
    }
}

/// What every business route shares, so no route has to say it: it needs the bearer key,
/// and a `201` carries the new resource's `Location` and may be an idempotent replay. Adds
/// only what an operation does not say yet, so a modifier may apply it again.
pub(super) fn business_conventions(openapi: &mut OpenApi) {
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        if OPERATIONAL_PATHS.contains(&path.as_str()) {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security.get_or_insert_with(|| {
                vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]
            });
            if let Some(RefOr::T(created)) = operation.responses.responses.get_mut("201") {
                created
                    .headers
                    .entry("Location".to_owned())
                    .or_insert_with(|| {
                        header("The path of the new resource, such as `/customers/{id}`.")
                    });
                created
                    .headers
                    .entry("Idempotent-Replayed".to_owned())
                    .or_insert_with(|| {
                        header(
                            "`true` when this is the stored answer to an earlier request with \
                             the same `Idempotency-Key`.",
                        )
                    });
            }
        }
    }
}

/// The routes every service has and no API key guards.
const OPERATIONAL_PATHS: [&str; 5] = ["/health", "/ready", "/metrics", "/openapi.json", "/docs"];

/// One handler may serve several methods (`PUT` and `PATCH`); operation ids must still be
/// unique, so a repeated one gets its method appended.
fn unique_operation_ids(openapi: &mut OpenApi) {
    let mut seen = std::collections::HashSet::new();
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("put", &mut item.put),
            ("delete", &mut item.delete),
            ("head", &mut item.head),
            ("options", &mut item.options),
            ("trace", &mut item.trace),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let Some(id) = operation.operation_id.clone() else {
                continue;
            };
            if !seen.insert(id.clone()) {
                let unique = format!("{id}_{method}");
                seen.insert(unique.clone());
                operation.operation_id = Some(unique);
            }
        }
    }
}

fn operational_paths() -> Vec<(&'static str, PathItem)> {
    let get = |id: &str, summary: &str, response: Response| {
        PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .tag(OPERATIONS_TAG)
                .operation_id(Some(id))
                .summary(Some(summary))
                .response("200", response),
        )
    };
    let health = ResponseBuilder::new()
        .description("The process is alive.")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(status_is("ok"))).build(),
        )
        .build();
    let metrics = ResponseBuilder::new()
        .description(
            "Prometheus text: requests by route and status with latency histograms, and the \
             service's own counters.",
        )
        .content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build();
    let document = ResponseBuilder::new()
        .description("This OpenAPI 3.1 document.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property("openapi", ObjectBuilder::new().schema_type(Type::String))
                        .required("openapi")
                        .property("paths", ObjectBuilder::new().schema_type(Type::Object))
                        .required("paths"),
                ))
                .build(),
        )
        .build();
    let docs = PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .tag(OPERATIONS_TAG)
            .operation_id(Some("swagger_ui"))
            .summary(Some("Swagger UI for this document"))
            .description(Some("Redirects to `/docs/`, the Swagger UI page."))
            .response(
                "303",
                ResponseBuilder::new()
                    .description("See `/docs/`.")
                    .header(
                        "Location",
                        HeaderBuilder::new()
                            .schema(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .enum_values(Some(["/docs/"])),
                            )
                            .build(),
                    )
                    .build(),
            )
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The Swagger UI page (after the redirect).")
                    .content(
                        "text/html",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    )
                    .build(),
            ),
    );
    vec![
        (
            "/health",
            get("health", "Whether the process is alive", health),
        ),
        ("/metrics", get("metrics", "Prometheus metrics", metrics)),
        (
            "/openapi.json",
            get("openapi", "This OpenAPI document", document),
        ),
        ("/docs", docs),
    ]
}

/// `GET /openapi.json` (the document) and `GET /docs` (Swagger UI, served from the copy
/// vendored in the `utoipa-swagger-ui` crate: nothing is fetched at build or run time).
/// Mount them outside any auth layer.
pub fn docs_routes<S>(document: OpenApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", document)
        .into()
}
