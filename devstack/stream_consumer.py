"""Lambda's DynamoDB stream event source mapping, run locally: read the stream, invoke a handler.

Like `devstack.consumer` for the queue, `StreamConsumer` does locally what Lambda does on AWS
for the archiver: it reads each shard of the table's stream from its oldest record
(`TRIM_HORIZON`), hands batches to the handler as a Lambda event (`{"Records": [...]}`, each
record with `eventSourceARN`), and moves past a batch only when the handler returned; a batch
whose invocation failed is read again from the same place, as Lambda retries it.

moto's stream records carry no `userIdentity`. A REMOVE of a key the local TTL sweeper deleted
(`devstack.ttl`) gets the service's TTL identity, exactly as DynamoDB marks its own TTL deletes;
every other REMOVE (an erasure) stays unmarked, as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalice.local import LambdaContext

from chalicelib.archive import TTL_IDENTITY
from devstack.ttl import SweptKeys

Handler = Callable[[dict[str, Any], Any], Any]


def lambda_stream_record(
    record: Mapping[str, Any], stream_arn: str, swept: SweptKeys
) -> dict[str, Any]:
    """A record as Lambda hands it over, marked as a TTL deletion when the sweeper made it."""
    event = {**record, "eventSourceARN": stream_arn}
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # boto3 parses it; Lambda's event has epoch seconds
        data["ApproximateCreationDateTime"] = created.timestamp()
    event["dynamodb"] = data
    keys = data.get("Keys", {})
    key = (keys.get("tenant_id", {}).get("S", ""), keys.get("log_id", {}).get("S", ""))
    if record.get("eventName") == "REMOVE" and swept.claim(key):
        event["userIdentity"] = dict(TTL_IDENTITY)
    return event


class StreamConsumer:
    """Reads a table's stream and feeds it, batch by batch, to a handler."""

    def __init__(
        self,
        streams: Any,
        table_name: str,
        handler: Handler,
        swept: SweptKeys,
        batch_size: int,
        function_name: str = "archiver",
    ) -> None:
        """Read `table_name`'s stream with the `dynamodbstreams` client `streams`."""
        self._streams = streams
        self._table = table_name
        self._arn = ""
        self._handler = handler
        self._swept = swept
        self._batch_size = batch_size
        self._function_name = function_name
        self._iterators: dict[str, str | None] = {}

    def _iterator(self, shard_id: str) -> str | None:
        if shard_id not in self._iterators:
            self._iterators[shard_id] = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        return self._iterators[shard_id]

    def run_once(self) -> int:
        """Read one batch from each shard and invoke the handler; return records handed over.

        A handler that raises leaves the shard's position where it was, so the batch comes
        again on the next call.
        """
        handed = 0
        if not self._arn:  # found as Lambda's mapping finds it, with its role's ListStreams
            [stream] = self._streams.list_streams(TableName=self._table)["Streams"]
            self._arn = stream["StreamArn"]
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._iterator(shard["ShardId"])
            if iterator is None:  # a closed shard, read to its end
                continue
            page = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
            records = [lambda_stream_record(r, self._arn, self._swept) for r in page["Records"]]
            if records:
                context = LambdaContext(self._function_name, memory_size=128)
                try:
                    self._handler({"Records": records}, context)
                except Exception:
                    # Lambda retries the batch; the records were claimed, so mark them again.
                    for record in records:
                        if "userIdentity" in record:
                            keys = record["dynamodb"]["Keys"]
                            self._swept.add((keys["tenant_id"]["S"], keys["log_id"]["S"]))
                    raise
                handed += len(records)
            self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
        return handed
