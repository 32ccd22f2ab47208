#[global_allocator]
static ALLOCATOR: service_kit::Allocator = service_kit::Allocator;

fn main() -> anyhow::Result<()> {
    service_kit::service::main(
        "invoice-service",
        invoice_service::Settings::from_env,
        invoice_service::build,
    )
}
