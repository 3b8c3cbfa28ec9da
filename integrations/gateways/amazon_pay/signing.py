"""AMZN-PAY-RSASSA-PSS request signing, as Amazon Pay API v2 documents it.

canonical request = METHOD \\n URI \\n QUERY \\n `name:value\\n` per signed header \\n
                    signed-header-names \\n hex(sha256(body))
string to sign    = ALGORITHM \\n hex(sha256(canonical request))
signature         = base64(RSASSA-PSS-SHA256(string to sign)), salt 20 (V2: 32)
Both the client (signing) and the sandbox server (verifying) use these functions.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "AMZN-PAY-RSASSA-PSS"
ALGORITHM_V2 = "AMZN-PAY-RSASSA-PSS-V2"
SALT_LENGTH = {ALGORITHM: 20, ALGORITHM_V2: 32}


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_query(query: str) -> str:
    """Query parameters sorted by name, RFC 3986 encoded."""
    pairs = [p.partition("=") for p in query.split("&") if p]
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, _, v in sorted(pairs))


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> tuple[str, str]:
    """(canonical request, signed header list) for the given signed headers."""
    lowered = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    names = sorted(lowered)
    canon_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed = ";".join(names)
    uri = quote(path or "/", safe="/-_.~")
    parts = [method.upper(), uri, canonical_query(query), canon_headers, signed, _sha256_hex(body)]
    return "\n".join(parts), signed


def string_to_sign(canonical: str, algorithm: str = ALGORITHM) -> str:
    """The string the private key signs."""
    return f"{algorithm}\n{_sha256_hex(canonical.encode())}"


def _pss(algorithm: str) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH[algorithm])


def sign(private_key: rsa.RSAPrivateKey, to_sign: str, algorithm: str = ALGORITHM) -> str:
    """Base64 RSASSA-PSS signature of the string to sign."""
    raw = private_key.sign(to_sign.encode(), _pss(algorithm), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(public_key: rsa.RSAPublicKey, to_sign: str, signature: str, algorithm: str) -> bool:
    """True when the signature matches the string to sign."""
    try:
        public_key.verify(base64.b64decode(signature), to_sign.encode(), _pss(algorithm), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def amz_date(now: datetime | None = None) -> str:
    """x-amz-pay-date value, e.g. 20240101T120000Z."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def signed_headers(
    method: str,
    url: str,
    body: bytes,
    *,
    public_key_id: str,
    private_key: rsa.RSAPrivateKey,
    region: str,
    idempotency_key: str | None = None,
    algorithm: str = ALGORITHM,
    now: datetime | None = None,
) -> dict[str, str]:
    """All headers of a signed request, Authorization included."""
    parts = urlsplit(url)
    headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "x-amz-pay-date": amz_date(now),
        "x-amz-pay-host": parts.netloc,
        "x-amz-pay-region": region,
    }
    if idempotency_key:
        headers["x-amz-pay-idempotency-key"] = idempotency_key
    canonical, signed = canonical_request(method, parts.path, parts.query, headers, body)
    signature = sign(private_key, string_to_sign(canonical, algorithm), algorithm)
    auth = f"{algorithm} PublicKeyId={public_key_id}, SignedHeaders={signed}, Signature={signature}"
    return {**headers, "authorization": auth}


def parse_authorization(value: str) -> tuple[str, dict[str, str]]:
    """('AMZN-PAY-RSASSA-PSS', {'PublicKeyId':..., 'SignedHeaders':..., 'Signature':...})."""
    algorithm, _, rest = value.strip().partition(" ")
    fields = dict(p.strip().partition("=")[::2] for p in rest.split(",") if "=" in p)
    return algorithm, fields


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Read a PEM RSA private key file (the secret never leaves this object)."""
    return as_rsa(serialization.load_pem_private_key(Path(path).read_bytes(), password=None), str(path))


def as_rsa(key: object, where: str) -> rsa.RSAPrivateKey:
    """The key if it is an RSA private key; Amazon Pay signs with RSASSA-PSS only."""
    if not isinstance(key, rsa.RSAPrivateKey):
        from smartpay.errors import InputError

        raise InputError("amazon_pay_private_key", where, "an RSA private key in PEM format")
    return key


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key, for sandbox set-ups."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public
