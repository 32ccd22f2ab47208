#[global_allocator]
static ALLOCATOR: service_kit::Allocator = service_kit::Allocator;

fn main() -> anyhow::Result<()> {
    console::main()
}
