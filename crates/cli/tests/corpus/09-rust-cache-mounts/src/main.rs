fn main() {
    println!("built with the target directory in a cache mount");
}
