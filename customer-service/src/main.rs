#[global_allocator]
static ALLOCATOR: service_kit::Allocator = service_kit::Allocator;

fn main() -> anyhow::Result<()> {
    service_kit::service::main(
        "customer-service",
        customer_service::Settings::from_env,
        customer_service::build,
    )
}
