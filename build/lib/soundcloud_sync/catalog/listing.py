"""Telling tracks a playlist's owner removed from tracks that only vanished from view.

SoundCloud lists a set's track ids and says how many tracks it holds (`track_count`).
When the owner removes a track, its id vanishes from the list and the count falls.
When the uploader deletes a track or makes it private, its id vanishes too, but the
count stays: the set still holds it, we just cannot see it. So a list shorter than the
count is normal (many real playlists hold a deleted track), and each vanished id is
explained by comparing how the count moved with the ids that appeared and vanished
since the last listing that was explained. A listing that cannot be explained removes
nothing: unlinking a track the owner kept would be a lie we cannot take back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ListingVerdict:
    """What a fresh listing means for the tracks the catalog knew in the playlist."""

    removed: list[int] = field(default_factory=list)  # the owner took them out: unlink
    hidden: list[int] = field(default_factory=list)  # deleted or private, still in the set
    restored: list[int] = field(default_factory=list)  # hidden before, listed again
    explained: bool = True  # False: nothing is removed, the last explained state is kept
    baseline_count: int = 0  # the count the next listing is compared with


def explain_listing(
    listed_before: Sequence[int],
    hidden_before: Collection[int],
    baseline_count: int | None,
    listed_now: Sequence[int],
    count_now: int,
) -> ListingVerdict:
    """Decide which of the ids listed before were removed by the owner.

    ``listed_before``: ids the catalog holds as listed; ``hidden_before``: ids it holds
    as still in the set but out of view; ``baseline_count``: the count of the last
    explained listing, plus the tracks added since (None before the first listing).

    The owner's removals (of listed or hidden tracks) number ``added - (count change)``.
    When they match the vanished ids (any surplus fits among the hidden tracks), every
    vanished id was removed; when there are none, every vanished id is only hidden. The
    explanation with the fewest events wins: a removal that coincides with an unrelated
    deletion cannot be seen, and any other mix cannot be told apart, so it removes nothing.
    """
    now = set(listed_now)
    before = set(listed_before)
    vanished = [i for i in listed_before if i not in now]
    appeared = [i for i in listed_now if i not in before]
    restored = [i for i in appeared if i in hidden_before]
    added = [i for i in appeared if i not in hidden_before]
    if len(now) >= count_now:  # every track is listed: whatever is missing was removed
        gone = vanished + [i for i in hidden_before if i not in now]
        return ListingVerdict(removed=gone, restored=restored, baseline_count=count_now)
    if not vanished or baseline_count is None:
        return ListingVerdict(restored=restored, baseline_count=count_now)
    owner_removals = len(added) - (count_now - baseline_count)
    hidden_at_baseline = max(baseline_count - len(listed_before), 0)
    if len(vanished) <= owner_removals <= len(vanished) + hidden_at_baseline:
        return ListingVerdict(removed=vanished, restored=restored, baseline_count=count_now)
    if owner_removals <= 0:
        return ListingVerdict(hidden=vanished, restored=restored, baseline_count=count_now)
    return ListingVerdict(
        restored=restored, explained=False, baseline_count=baseline_count + len(added)
    )
