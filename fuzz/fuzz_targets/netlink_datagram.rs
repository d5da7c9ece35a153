//! The NETLINK_SOCK_DIAG reply parser, documented as total: any bytes give
//! `Ok` or `Err`, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcptune::census::Census;
use tcptune::system::netlink::parse_datagram;

fuzz_target!(|data: &[u8]| {
    let mut census = Census::default();
    let _ = parse_datagram(data, &mut census);
    // A second datagram into the same census, as the receive loop does.
    let _ = parse_datagram(data, &mut census);
});
