/// Lines, words and bytes of `text`, as wc counts them.
pub fn count(text: &str) -> (usize, usize, usize) {
    (text.lines().count(), text.split_whitespace().count(), text.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts() {
        assert_eq!(super::count("a b\nc\n"), (2, 3, 6));
    }
}
