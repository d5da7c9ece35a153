//! Real-kernel tests in private network namespaces.
