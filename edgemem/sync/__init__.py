"""Adapter sync: the outbox that leaves the device, and the signed updates that come back.

The device never goes online. Consenting patients' dialogues leave on a USB stick or a local share
as an encrypted outbox (``outbox``); a training host turns them into a new signed bundle or a
LoRA-only update; ``apply`` stages it into the inactive A/B slot, smoke-tests it and switches
atomically; ``slots`` keeps the state (active slot, boot counter, rollback) so a clinic kiosk is
never left with a broken model.

Submodules are imported on use: ``import edgemem.sync`` costs nothing.
"""
