"""The chain's PKI: a CA that signs gateway, broker and service certificates, and revokes them.

The CA is `hub.pki.ca.CertificateAuthority`; `hub.pki.cli` wires it to `footfall-hub pki`. This package
imports nothing itself, so that `footfall-hub --help` never loads cryptography.
"""
