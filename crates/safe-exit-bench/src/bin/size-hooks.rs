//! The same minimal program as `size-bare`, with one exit hook: hooks-bench reports the
//! difference in size as what safe-exit adds to a binary.

fn main() {
    safe_exit::register(|| println!("bye"));
    println!("hello");
}
