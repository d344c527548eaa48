use std::io::Read;

fn main() {
    let mut text = String::new();
    match std::env::args().nth(1) {
        Some(path) => text = std::fs::read_to_string(path).expect("readable file"),
        None => {
            std::io::stdin().read_to_string(&mut text).expect("stdin");
        }
    }
    let (lines, words, bytes) = wc_core::count(&text);
    println!("{lines} {words} {bytes}");
}
