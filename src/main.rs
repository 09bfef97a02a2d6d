//! The `storybook-studio` binary: everything lives in the library; this only hands over.

/// Reuses freed tensor buffers instead of faulting fresh pages in every step (see `memory`).
#[global_allocator]
static ALLOCATOR: storybook_studio::memory::BlockCache = storybook_studio::memory::BlockCache;

fn main() -> std::process::ExitCode {
    storybook_studio::memory::tune_system_allocator();
    storybook_studio::cli::main()
}
