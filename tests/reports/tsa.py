"""A minimal RFC 3161 time-stamping authority on loopback, for tests only.

It answers ``application/timestamp-query`` POSTs with a granted ``TimeStampResp`` whose
token is a CMS SignedData over a TSTInfo (the request's imprint and nonce, the time),
signed with RSA/SHA-256 by a TSA certificate (extended key usage timeStamping, critical)
issued by its own root.  Built with ``cryptography`` (keys, certificates) and
``asn1crypto`` (the ASN.1 structures).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _cert(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, signer: rsa.RSAPrivateKey, *, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC) - timedelta(days=1)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        ).add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    return b.sign(signer, hashes.SHA256())


class LocalTSA:
    """Keys, certificates and the signing of responses."""

    def __init__(self, folder: Path) -> None:
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = _cert("auditkit test root", self.root_key, "auditkit test root",
                          self.root_key, ca=True)  # fmt: skip
        self.cert = _cert("auditkit test TSA", self.key, "auditkit test root",
                          self.root_key, ca=False)  # fmt: skip
        self.roots_pem = folder / "tsa-roots.pem"
        self.roots_pem.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        self.serial = 0
        self.requests = 0

    def respond(self, body: bytes) -> bytes:
        self.requests += 1
        req = tsp.TimeStampReq.load(body)
        self.serial += 1
        info = {
            "version": "v1",
            "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": req["message_imprint"],
            "serial_number": self.serial,
            "gen_time": datetime.now(UTC).replace(microsecond=0),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"].native
        tst = tsp.TSTInfo(info)
        tst_der = tst.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        acert = ax509.Certificate.load(cert_der)
        attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [
                            tsp.SigningCertificateV2(
                                {
                                    "certs": [
                                        tsp.ESSCertIDv2(
                                            {
                                                "hash_algorithm": {"algorithm": "sha256"},
                                                "cert_hash": hashlib.sha256(cert_der).digest(),
                                            }
                                        )
                                    ]
                                }
                            )
                        ],
                    }
                ),
            ]
        )
        signature = self.key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": acert.issuer, "serial_number": acert.serial_number}
                        )
                    }
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": "sha256_rsa"},
                "signature": signature,
            }
        )
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(tst_der),
                },
                "certificates": [acert],
                "signer_infos": [signer],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return tsp.TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()


@contextmanager
def local_tsa(folder: Path) -> Iterator[tuple[str, LocalTSA]]:
    """A TSA serving on 127.0.0.1 (a free port) until the block ends: (url, tsa)."""
    tsa = LocalTSA(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = tsa.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", tsa
    finally:
        server.shutdown()
        server.server_close()
