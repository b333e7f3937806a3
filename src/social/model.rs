//! Pure rules of the social graph: addresses on other networks, and reading a follow list
//! exported from one (Mastodon's `following_accounts.csv`).

/// At most this many addresses per member.
pub const MAX_ADDRESSES: usize = 5;
/// Files larger than this are refused before they are read.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;
/// Lines in one follow list.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// `@name@mastodon.social` or `name@mastodon.social`, as stored: lower case, no leading `@`.
pub fn normalize_address(raw: &str) -> Option<String> {
    let address = raw.trim().trim_start_matches('@').to_lowercase();
    let (name, host) = address.split_once('@')?;
    let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    let labels: Vec<&str> = host.split('.').collect();
    let host_ok = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    (name_ok && host_ok && address.len() <= 254).then_some(address)
}

/// Addresses typed one per line or separated by commas or spaces; each error names the entry.
pub fn parse_addresses(raw: &str) -> Result<Vec<String>, String> {
    let mut addresses = Vec::new();
    for entry in raw.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty()) {
        let address = normalize_address(entry)
            .ok_or_else(|| format!("“{entry}” is not an address such as @name@mastodon.social."))?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.len() > MAX_ADDRESSES {
        return Err(format!("List up to {MAX_ADDRESSES} addresses."));
    }
    Ok(addresses)
}

/// Why a follow list could not be read. Nothing is imported from a file that has one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("Choose a file to upload.")]
    Empty,
    #[error("The file is larger than 1 MB. Follow lists are far smaller: is it the right file?")]
    TooLarge,
    #[error("The file is not text (UTF-8). Upload following_accounts.csv as exported.")]
    NotText,
    #[error("The first line should start with “Account address”, as in Mastodon's following_accounts.csv.")]
    WrongHeader,
    #[error("Line {line}: “{text}” is not an account address.")]
    BadAddress { line: usize, text: String },
    #[error("The file has more than {MAX_IMPORT_ROWS} accounts.")]
    TooManyRows,
    #[error("The upload was cut off or malformed. Please try again.")]
    Malformed,
}

/// The distinct account addresses in a Mastodon follow list (`Account address,Show boosts,...`).
pub fn parse_follow_list(bytes: &[u8]) -> Result<Vec<String>, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ImportError::NotText)?;
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(ImportError::Empty)?;
    if !first_field(header).eq_ignore_ascii_case("account address") {
        return Err(ImportError::WrongHeader);
    }
    let mut addresses = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in lines {
        let field = first_field(line);
        let address = normalize_address(field)
            .ok_or_else(|| ImportError::BadAddress { line: index + 1, text: field.to_owned() })?;
        if seen.insert(address.clone()) {
            addresses.push(address);
        }
        if addresses.len() > MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows);
        }
    }
    Ok(addresses)
}

/// The first comma-separated field, without surrounding quotes.
fn first_field(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or(""),
        None => line.split(',').next().unwrap_or("").trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_or_refused() {
        assert_eq!(normalize_address(" @Ada@Mastodon.Social "), Some("ada@mastodon.social".to_owned()));
        assert_eq!(normalize_address("ada@mastodon.social"), Some("ada@mastodon.social".to_owned()));
        for bad in ["ada", "@ada", "ada@localhost", "a da@x.org", "ada@x..org", "ada@@x.org", "javascript:x@y.z"] {
            assert_eq!(normalize_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_typed_list_of_addresses_is_split_and_checked() {
        assert_eq!(parse_addresses("@a@x.org, b@y.net\n@A@X.org").unwrap(), ["a@x.org", "b@y.net"]);
        assert!(parse_addresses("a@x.org nonsense").unwrap_err().contains("nonsense"));
        assert!(parse_addresses("a@b.cc b@b.cc c@b.cc d@b.cc e@b.cc f@b.cc").is_err());
    }

    #[test]
    fn a_mastodon_export_gives_its_distinct_addresses() {
        let file = "\u{feff}Account address,Show boosts,Notify on new posts,Languages\r\n\
                    ada@mastodon.social,true,false,\r\n\
                    grace@hachyderm.io,true,false,\"en,de\"\r\n\
                    \r\n\
                    Ada@Mastodon.social,true,false,\r\n";
        assert_eq!(parse_follow_list(file.as_bytes()).unwrap(), ["ada@mastodon.social", "grace@hachyderm.io"]);
    }

    #[test]
    fn malformed_files_are_refused_whole() {
        assert_eq!(parse_follow_list(b""), Err(ImportError::Empty));
        assert_eq!(parse_follow_list(b"name,url\nada@x.org,1"), Err(ImportError::WrongHeader));
        assert_eq!(parse_follow_list(&[0xff, 0xfe, 0x00]), Err(ImportError::NotText));
        let bad = parse_follow_list(b"Account address,Show boosts\nada@x.org,true\nnot an address,true\n");
        assert_eq!(bad, Err(ImportError::BadAddress { line: 3, text: "not an address".to_owned() }));
        assert_eq!(parse_follow_list(&vec![b'a'; MAX_IMPORT_BYTES + 1]), Err(ImportError::TooLarge));
    }
}
