"""Who a member of staff is, from the claims API Gateway's Cognito authorizer verified.

The REST API's Cognito authorizer checks a token's signature, issuer, audience and expiry, but not its groups:
each staff route names the group it needs and checks it here. The authorizer hands the function the token's
claims as strings (`requestContext.authorizer.claims`); `cognito:groups` arrives comma-separated (and, from
some integrations, as "[a b]"), so both are read.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from photomod_shared.errors import NotInGroup, NotSignedIn


@dataclass(frozen=True)
class StaffMember:
    """A verified member of staff: the pool's stable user id (`sub`), the name they sign in with, their groups."""

    sub: str
    username: str
    groups: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> "StaffMember":
        sub = str(claims.get("sub") or "")
        if not sub:
            raise NotSignedIn("sign in first: the request carries no verified identity")
        username = str(claims.get("cognito:username") or claims.get("username") or sub)
        return cls(sub=sub, username=username, groups=frozenset(_groups(claims.get("cognito:groups"))))

    def require(self, group: str) -> "StaffMember":
        if group not in self.groups:
            raise NotInGroup(f"{self.username} is not in the {group} group, which this route needs")
        return self


def _groups(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(group) for group in value]
    text = str(value).strip().removeprefix("[").removesuffix("]")
    return [group for group in text.replace(",", " ").split() if group]


def staff_member(event: Mapping[str, Any], group: str) -> StaffMember:
    """The caller of a staff route, who must be in `group`; NotSignedIn or NotInGroup otherwise."""
    authorizer = ((event.get("requestContext") or {}).get("authorizer")) or {}
    claims = authorizer.get("claims") or {}
    return StaffMember.from_claims(claims).require(group)
