//! A minimal program without safe-exit: the baseline of hooks-bench's binary-size figure.

fn main() {
    println!("hello");
}
