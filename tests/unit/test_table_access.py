"""All DynamoDB access goes through photomod_shared.tables: no other module of the project builds a DynamoDB
request's expression (a key condition, an update, a filter, a condition, a projection, their attribute names and
values, `boto3.dynamodb.conditions`, or a PartiQL statement).

One home for every request keeps the item's format, the sparse indexes' bookkeeping and the conditional writes'
rules in one place, and lets the permission check's recorded calls be read against one adapter. Tests may build
requests of their own (they arrange and inspect the tables): only the project's own code is read.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The project's code: the functions, the local stack and build, the users' tools, the benchmark and load test.
SOURCE_FOLDERS = ("functions", "infra", "tools", "bench", "load")
TABLE_ADAPTER = ROOT / "functions" / "shared" / "photomod_shared" / "tables"
EXPRESSION_PARAMETERS = frozenset(
    {
        "KeyConditionExpression",
        "UpdateExpression",
        "FilterExpression",
        "ConditionExpression",
        "ProjectionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        # The legacy forms of the same (KeyConditions, AttributeUpdates, ...), still accepted by DynamoDB.
        "KeyConditions",
        "QueryFilter",
        "ScanFilter",
        "AttributeUpdates",
        "Expected",
        "AttributesToGet",
    }
)
CONDITIONS_MODULE = "boto3.dynamodb.conditions"
PARTIQL_CALLS = frozenset({"execute_statement", "batch_execute_statement", "execute_transaction"})


def project_modules(root: Path) -> list[Path]:
    skipped = {"node_modules", "__pycache__", ".venv"}
    return sorted(
        path
        for folder in SOURCE_FOLDERS
        for path in (root / folder).rglob("*.py")
        if not skipped.intersection(path.relative_to(root).parts)
    )


def expressions_built(tree: ast.Module) -> list[str]:
    """What in this module builds a DynamoDB expression: `line: what`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.keyword) and node.arg in EXPRESSION_PARAMETERS:
            what = f"{node.arg}="
        elif isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            what = next((f"{key!r}:" for key in keys if key in EXPRESSION_PARAMETERS), None)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            what = f"[{node.slice.value!r}]" if node.slice.value in EXPRESSION_PARAMETERS else None
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(CONDITIONS_MODULE):
            what = f"from {node.module} import"
        elif isinstance(node, ast.ImportFrom) and node.module == "boto3.dynamodb":
            what = "from boto3.dynamodb import conditions" if any(a.name == "conditions" for a in node.names) else None
        elif isinstance(node, ast.Import):
            what = next((f"import {a.name}" for a in node.names if a.name.startswith(CONDITIONS_MODULE)), None)
        elif isinstance(node, ast.Attribute) and node.attr in PARTIQL_CALLS:
            what = f".{node.attr}"
        if what:
            found.append((getattr(node, "lineno", 0), what))
    return [f"{line}: {what}" for line, what in sorted(found)]


def expression_builders(root: Path, adapter: Path) -> dict[str, list[str]]:
    """{module: what it builds} for every project module outside the table adapter that builds an expression."""
    found = {}
    for path in project_modules(root):
        if path.is_relative_to(adapter):
            continue
        built = expressions_built(ast.parse(path.read_text(), filename=str(path)))
        if built:
            found[str(path.relative_to(root))] = built
    return found


def test_only_the_table_adapter_builds_dynamodb_expressions():
    assert expression_builders(ROOT, TABLE_ADAPTER) == {}


def test_the_rule_reads_the_adapter_it_exempts():
    # The exempt package exists and is where the requests are: the rule is not passing by reading nothing.
    adapter_modules = [path for path in project_modules(ROOT) if path.is_relative_to(TABLE_ADAPTER)]
    built = [entry for path in adapter_modules for entry in expressions_built(ast.parse(path.read_text()))]
    assert len(adapter_modules) >= 5
    assert any("UpdateExpression=" in entry for entry in built)
    assert any("'KeyConditionExpression':" in entry for entry in built)


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("table.update_item(Key=key, UpdateExpression='SET a = :a')\n", "1: UpdateExpression="),
        ("table.put_item(Item=item, ConditionExpression='attribute_not_exists(k)')\n", "1: ConditionExpression="),
        ("request = {'KeyConditionExpression': '#q = :q'}\n", "1: 'KeyConditionExpression':"),
        ("request['ProjectionExpression'] = 'image_id'\n", "1: ['ProjectionExpression']"),
        ("table.scan(FilterExpression=Attr('status').eq('pending'))\n", "1: FilterExpression="),
        ("from boto3.dynamodb.conditions import Key\n", "1: from boto3.dynamodb.conditions import"),
        ("import boto3.dynamodb.conditions\n", "1: import boto3.dynamodb.conditions"),
        ("from boto3.dynamodb import conditions\n", "1: from boto3.dynamodb import conditions"),
        ("client.execute_statement(Statement='SELECT * FROM t')\n", "1: .execute_statement"),
        ("table.update_item(Key=key, AttributeUpdates={'a': {'Value': 1}})\n", "1: AttributeUpdates="),
    ],
)
def test_a_module_building_an_expression_outside_the_adapter_is_caught(tmp_path: Path, source: str, caught: str):
    adapter = tmp_path / "functions" / "shared" / "photomod_shared" / "tables"
    adapter.mkdir(parents=True)
    (adapter / "outcomes.py").write_text(source)  # the adapter: may
    service = tmp_path / "functions" / "reconcile" / "reconcile"
    service.mkdir(parents=True)
    (service / "storage.py").write_text(source)

    assert expression_builders(tmp_path, adapter) == {"functions/reconcile/reconcile/storage.py": [caught]}


def test_plain_reads_and_writes_by_key_are_not_expressions(tmp_path: Path):
    module = tmp_path / "tools" / "seed.py"
    module.parent.mkdir(parents=True)
    module.write_text("table.get_item(Key={'image_id': i}, ConsistentRead=True)\ntable.put_item(Item=item)\n")

    assert expression_builders(tmp_path, tmp_path / "functions") == {}
