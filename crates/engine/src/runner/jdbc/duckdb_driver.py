# Saker's DuckDB driver for io.kestra.plugin.jdbc.duckdb.{Query,Queries} (runner/jdbc/duckdb.rs).
# Run confined, in the task's working directory, as: python driver.py REQUEST RESULT
# REQUEST is a JSON file Saker wrote: the database path and settings, the statements (named parameters already
# turned into $n placeholders) with their values, what to keep of each, the time zone, whether
# to run in one transaction and the community extensions to load. DuckDB binds the values.
# RESULT gets one JSON value per line, which Saker reads back:
#   {"warning": text}                      an extension that did not load
#   {"columns": [names], "statement": i}   a result set follows, one JSON array per row
#   {"changed": n, "statement": i}         a statement that changed rows (or none)
#   {"error": text, "statement": i}        DuckDB refused statement i; the driver exits 1
#   {"done": true}                         every statement ran
# Exit status 3: the duckdb package cannot be imported by this python.
import base64
import datetime
import decimal
import json
import math
import sys
import uuid

try:
    import duckdb
except ImportError as err:
    sys.stderr.write("cannot import duckdb: %s\n" % err)
    sys.exit(3)

MAX_INT = 2 ** 63


def cell(value):
    """A DuckDB value as JSON: dates as ISO text, decimals as numbers, blobs as base64."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -MAX_INT <= value < MAX_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    if isinstance(value, datetime.datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return iso_duration(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): cell(v) for k, v in value.items()}
    return str(value)


def iso_duration(delta):
    """An INTERVAL as Java's Duration prints it (PT26H3M4.5S), as Kestra's JDBC tasks show one."""
    micros = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    hours, rest = divmod(micros, 3600 * 1000000)
    minutes, rest = divmod(rest, 60 * 1000000)
    seconds = rest / 1000000
    text = "PT"
    if hours:
        text += "%s%dH" % (sign, hours)
    if minutes:
        text += "%s%dM" % (sign, minutes)
    if seconds or text == "PT":
        text += "%s%sS" % (sign, ("%f" % seconds).rstrip("0").rstrip("."))
    return text


def write(out, value):
    out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")


def expected_results(sql):
    """What DuckDB may answer the statement with: rows, a count of changed rows, nothing."""
    try:
        statements = duckdb.extract_statements(sql)
    except Exception:
        return set()
    return {t for s in statements for t in s.expected_result_type}


def returns_rows(sql, columns):
    """True when the statement's answer is rows, not a count of changed rows (an INSERT, a
    CREATE TABLE, a COPY) or a mere success (a SET), as DuckDB's JDBC driver tells them."""
    if not columns:
        return False
    expected = expected_results(sql)
    if not expected:
        return True
    if duckdb.ExpectedResultType.QUERY_RESULT not in expected:
        return False
    return not (
        duckdb.ExpectedResultType.CHANGED_ROWS in expected and columns == ["Count"]
    )


def run(request, out):
    connection = duckdb.connect(request["database"], config=request["config"])
    connection.execute("SET TimeZone = $1", [request["timeZone"]])
    if request["extensions"]:
        connection.execute("SET extension_directory = '.duckdb_extensions'")
    for extension in request["extensions"]:
        try:
            connection.execute("INSTALL %s FROM community" % duckdb_name(extension))
            connection.execute("LOAD %s" % duckdb_name(extension))
        except Exception as err:
            write(out, {"warning": "extension '%s' not loaded: %s" % (extension, err)})
    if request["transaction"]:
        connection.execute("BEGIN TRANSACTION")
    for i, statement in enumerate(request["statements"]):
        try:
            cursor = connection.execute(statement["sql"], statement["values"])
            columns = [d[0] for d in cursor.description or []]
            if not returns_rows(statement["sql"], columns):
                count = cursor.fetchone() if columns == ["Count"] else None
                write(out, {"changed": count[0] if count else 0, "statement": i})
                continue
            write(out, {"columns": columns, "statement": i})
            keep = statement["keep"]
            while keep != 0:
                rows = cursor.fetchmany(1000 if keep < 0 else min(keep, 1000))
                if not rows:
                    break
                for row in rows:
                    write(out, [cell(v) for v in row])
                if keep > 0:
                    keep -= len(rows)
        except duckdb.Error as err:
            write(out, {"error": str(err), "statement": i})
            return 1
    if request["transaction"]:
        connection.execute("COMMIT")
    connection.close()
    write(out, {"done": True})
    return 0


def duckdb_name(name):
    """An extension name as an identifier: letters, digits and underscores only."""
    if not name.replace("_", "").isalnum():
        raise ValueError("not an extension name")
    return name


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        try:
            code = run(request, out)
        except duckdb.Error as err:
            write(out, {"error": str(err), "statement": None})
            code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
