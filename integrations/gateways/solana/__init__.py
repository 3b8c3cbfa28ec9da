"""Solana: SPL-token or SOL payments on LiteSVM (in process) or JSON-RPC (devnet/mainnet)."""

from integrations.gateways.solana.adapter import SolanaAdapter
from integrations.gateways.solana.chain import LiteSvmBackend, RpcBackend
from integrations.gateways.solana.ledger import Ledger
from integrations.gateways.solana.localnet import LocalChain, setup_localnet
from integrations.gateways.solana.rpc_standin import SolanaRpcServer, run_solana_rpc
from integrations.gateways.solana.transformers import SolanaAsset

__all__ = ["LiteSvmBackend", "Ledger", "LocalChain", "RpcBackend", "SolanaAdapter", "SolanaAsset",
           "SolanaRpcServer", "run_solana_rpc", "setup_localnet"]
