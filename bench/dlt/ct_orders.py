"""The peer in `npm run bench -- e2e`: dlt's rest_api source reading commercetools orders from the
emulator into dlt's DuckDB destination, as a dlt user would configure it (OAuth2 client credentials,
key-set paging on (lastModifiedAt, id) through a small paginator, since commercetools caps offsets).

usage: python ct_orders.py <emulator url> <project key> <client id> <client secret> <pipelines dir> [records]
prints one JSON line: rows, seconds.
"""
import json
import sys
import time

import dlt
from dlt.common.configuration import configspec
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api import rest_api_source

url, project, client_id, client_secret, pipelines_dir = sys.argv[1:6]


@configspec
class BasicClientCredentials(OAuth2ClientCredentials):
    """commercetools wants the client credentials as HTTP Basic auth on the token request."""

    def build_access_token_request(self):
        return {"auth": (self.client_id, self.client_secret), "data": {"grant_type": "client_credentials"}}


class KeysetPaginator(BasePaginator):
    """Next page: records strictly after the last (lastModifiedAt, id) seen."""

    def update_state(self, response, data=None):
        if not data or len(data) < 500:
            self._has_next_page = False
            return
        last = data[-1]
        self.last = (last["lastModifiedAt"], last["id"])

    def update_request(self, request):
        lm, id_ = self.last
        request.params["where"] = f'lastModifiedAt > "{lm}" or (lastModifiedAt = "{lm}" and id > "{id_}")'


source = rest_api_source(
    {
        "client": {
            "base_url": f"{url}/{project}/",
            "auth": BasicClientCredentials(access_token_url=f"{url}/oauth/token", client_id=client_id, client_secret=client_secret),
        },
        "resources": [
            {
                "name": "orders",
                "primary_key": "id",
                "write_disposition": "replace",
                "endpoint": {
                    "path": "orders",
                    "params": {"limit": 500, "withTotal": "false", "sort": ["lastModifiedAt asc", "id asc"]},
                    "data_selector": "results",
                    "paginator": KeysetPaginator(),
                },
            }
        ],
    }
)

pipeline = dlt.pipeline(pipeline_name="bench_ct", destination=dlt.destinations.duckdb(f"{pipelines_dir}/bench_ct.duckdb"), dataset_name="ct", pipelines_dir=pipelines_dir, progress=None)
if len(sys.argv) > 6 and int(sys.argv[6]) > 0:
    # Read only the first N records of the emulator (dlt is slow enough that all of them would take hours).
    source.resources["orders"].add_limit(max_items=int(sys.argv[6]) // 500)
t = time.time()
pipeline.extract(source)
t_extract = time.time()
pipeline.normalize()
t_normalize = time.time()
pipeline.load()
t_load = time.time()
seconds = t_load - t
with pipeline.sql_client() as c:
    rows = c.execute_sql("select count(*) from orders")[0][0]
print(json.dumps({"rows": rows, "seconds": seconds, "extract": t_extract - t, "normalize": t_normalize - t_extract, "load": t_load - t_normalize}))
