using System.Net;
using System.Reflection;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// Walks every REST endpoint of the app with bad input (malformed ids, overflowing and negative numbers, enormous
/// page sizes, unknown enum values, impossible and out-of-range times, reversed ranges, SQL metacharacters, NUL bytes,
/// broken JSON bodies) as an admin, who may reach them all. Each answer is a 4xx ProblemDetails (400 as a rule, 404
/// where the route does not match or the id names nothing, 415 for a body that is not JSON), and never a 5xx.
/// Every route and query parameter must be classified in <see cref="Kinds"/>, so a new parameter cannot slip by.
/// </summary>
public sealed class BadInputTests(SecurityFleet fleet) : IClassFixture<SecurityFleet>
{
    /// <summary>What each parameter is, by name; the kind decides the bad values and what they must get.</summary>
    public enum Kind
    {
        /// <summary>A positive whole-number id in the query string.</summary>
        QueryId,

        /// <summary>An id in the path: a bad one is 400, or 404 when the route no longer matches or names nothing.</summary>
        RouteId,

        /// <summary>page / pageSize.</summary>
        Paging,

        /// <summary>An ISO-8601 time.</summary>
        Time,

        /// <summary>Free text matched literally: metacharacters are fine (200) unless the text is refused (400).</summary>
        Text,

        /// <summary>One of a fixed set of names.</summary>
        Enum,

        /// <summary>true or false.</summary>
        Bool,

        /// <summary>A JSON body bound by minimal API.</summary>
        Body,
    }

    public static readonly IReadOnlyDictionary<string, Kind> Kinds = new Dictionary<string, Kind>(StringComparer.Ordinal)
    {
        ["id"] = Kind.RouteId,
        ["departmentId"] = Kind.QueryId,
        ["zoneId"] = Kind.QueryId,
        ["vehicleId"] = Kind.QueryId,
        ["page"] = Kind.Paging,
        ["pageSize"] = Kind.Paging,
        ["from"] = Kind.Time,
        ["to"] = Kind.Time,
        ["plate"] = Kind.Text,
        ["terminalId"] = Kind.Text,
        ["state"] = Kind.Enum,
        ["enabled"] = Kind.Bool,
        ["request"] = Kind.Body,
        ["action"] = Kind.Enum,
        ["actorId"] = Kind.QueryId,
        ["actor"] = Kind.Text,
        ["targetType"] = Kind.Enum,
        ["targetId"] = Kind.Text,
        ["q"] = Kind.Text,
        ["role"] = Kind.Enum,
    };

    /// <summary>The endpoints that read a JSON body (some read it by hand, which reflection cannot see): a bad one is 400 or 415.</summary>
    public static readonly IReadOnlySet<string> TakesJsonBody = new HashSet<string>(StringComparer.Ordinal)
    {
        "POST /api/auth/login",
        "POST /api/terminals",
        "PATCH /api/terminals/{id}",
        "POST /api/admin/users",
        "PATCH /api/admin/users/{id}",
        "POST /api/admin/users/{id}/password",
        "POST /api/admin/tokens",
    };

    private static readonly string Long = new('9', 5000);

    private static readonly Dictionary<Kind, string[]> BadValues = new()
    {
        [Kind.QueryId] = ["0", "-1", "abc", "1.5", "1e3", "99999999999999999999", "1;DROP TABLE vehicles", "1' OR '1'='1", "%00", Long],
        [Kind.RouteId] = ["0", "-1", "abc", "1.5", "99999999999999999999", "1'%20OR%20'1'='1", "%00", "%E2%80%8B", "a%2Fb", "..", Long],
        [Kind.Paging] = ["0", "-1", "1000000", "2147483648", "99999999999999999999", "abc", "1.5", "%00"],
        [Kind.Time] = ["2026-13-45", "2026-02-30T25:61:00", "0001-01-01", "1969-12-31T23:59:59Z", "3000-01-01", "9999-12-31T23:59:59Z", "10000-01-01", "yesterday", "2026-01-01T00:00:00+25:00", "'%20OR%201=1%20--", "%00", Long],
        [Kind.Text] = ["'%20OR%201=1%20--", "%25_%5C", "%22%3B%20DROP%20TABLE%20users%3B%20--", "%00", "%C0%AF", Long],
        [Kind.Enum] = ["flying", "1", "MOVING'--", "moving,stopped", "%00"],
        [Kind.Bool] = ["yes", "2", "tru", "%00"],
        [Kind.Body] = [],
    };

    private static readonly (string Body, string MediaType)[] BadBodies =
    [
        ("", "application/json"),
        ("{", "application/json"),
        ("{\"id\":", "application/json"),
        ("[]", "application/json"),
        ("null", "application/json"),
        ("\"text\"", "application/json"),
        ("{\"id\":1e999,\"vehicleId\":99999999999999999999,\"enabled\":\"maybe\",\"username\":{},\"password\":[]}", "application/json"),
        ("{\"type\":\"Polygon\",\"coordinates\":[[[500,-200],[1,1]]]}", "application/json"),
        ("{\"id\":\"x\\u0000y\",\"username\":\"a\\u0000b\",\"password\":\"' OR 1=1 --\"}", "application/json"),
        // Only the NUL is wrong here, so it is the NUL that must be refused, not an unknown field or a bad username.
        ("{\"displayName\":\"a\\u0000b\",\"name\":\"a\\u0000b\"}", "application/json"),
        (new string('[', 10_000) + new string(']', 10_000), "application/json"),
        ("{\"a\":\"\xFF\"}", "application/json"),
        ("id=1&username=admin", "application/x-www-form-urlencoded"),
        ("<xml/>", "text/xml"),
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public void Every_parameter_of_every_endpoint_is_classified()
    {
        var unclassified = Endpoints().SelectMany(e => e.Parameters.Where(p => !Kinds.ContainsKey(p)).Select(p => $"{e.Key}: '{p}'")).ToList();

        Assert.True(unclassified.Count == 0, "Give these parameters a kind in BadInputTests.Kinds:\n" + string.Join("\n", unclassified));
        Assert.Contains(Endpoints(), e => e.Parameters.Contains("pageSize"));
    }

    [Fact(Timeout = 300_000)]
    public async Task Bad_query_and_route_values_get_400_or_404_problem_details_never_500()
    {
        var failures = new List<string>();
        var tried = 0;
        foreach (var endpoint in Endpoints())
        {
            foreach (var parameter in endpoint.Parameters)
            {
                var kind = Kinds[parameter];
                foreach (var value in BadValues[kind])
                {
                    var url = endpoint.RouteParameters.Contains(parameter)
                        ? WithRouteValue(endpoint.Route, parameter, value) + Query(endpoint.SamplePath)
                        : AddQuery(endpoint.SamplePath, parameter, value);
                    int[] allowed = kind switch
                    {
                        Kind.RouteId => [400, 404],
                        Kind.Text => [200, 400],
                        _ => [400],
                    };
                    await CheckAsync(endpoint, url, null, allowed, failures);
                    tried++;
                }
            }

            // A reversed range, each bound valid on its own.
            if (endpoint.Parameters.Contains("from") && endpoint.Parameters.Contains("to"))
            {
                var url = AddQuery(AddQuery(endpoint.SamplePath, "from", "2026-02-01T00:00:00%2B08:00"), "to", "2026-01-31");
                await CheckAsync(endpoint, url, null, [400], failures);
                tried++;
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{tried} bad requests");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(tried > 100, $"only {tried} bad requests");
    }

    [Fact(Timeout = 300_000)]
    public async Task Bad_bodies_at_every_unsafe_endpoint_get_400_or_415_problem_details_never_500()
    {
        var failures = new List<string>();
        var unsafeEndpoints = Endpoints().Where(e => e.Method is not ("GET" or "HEAD")).ToList();
        Assert.NotEmpty(unsafeEndpoints);
        Assert.Empty(TakesJsonBody.Except(unsafeEndpoints.Select(e => e.Key)));
        foreach (var endpoint in unsafeEndpoints)
        {
            foreach (var body in BadBodies)
            {
                // Endpoints that take no body ignore it, and may succeed; the others must refuse it.
                int[] allowed = TakesJsonBody.Contains(endpoint.Key) ? [400, 415] : [200, 201, 204, 400, 404, 409, 415];
                await CheckAsync(endpoint, endpoint.SamplePath, body, allowed, failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private async Task CheckAsync(EndpointInfo endpoint, string url, (string Body, string MediaType)? body, int[] allowed, List<string> failures)
    {
        var row = AccessMatrix.Rows.OfType<RestRow>().Single(r => r.Key == endpoint.Key);
        var (client, token) = row.OwnSession ? await fleet.FreshSessionAsync("admin", Ct) : await fleet.SessionAsync("admin", Ct);
        using var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), url);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Add(SessionAntiforgery.HeaderName, token);
        if (body is { } b)
        {
            request.Content = new StringContent(b.Body, Encoding.Latin1, b.MediaType);
            request.Content.Headers.ContentType!.CharSet = null;
        }
        else if (TakesJsonBody.Contains(endpoint.Key))
        {
            // A valid body, so the query or route value is what is wrong.
            request.Content = new StringContent(row.Body is null ? "{}" : fleet.Resolve(row.Body), Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request, Ct);
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(Ct);
        var what = $"{endpoint.Method} {Shorten(url)}{(body is { } sent ? $" body {Shorten(sent.Body)} ({sent.MediaType})" : "")}";
        if (!allowed.Contains(status))
        {
            failures.Add($"{what}: {status}, expected {string.Join(" or ", allowed)}: {Shorten(text)}");
        }
        else if (status == 400 && text.Length == 0 && url.Split('?')[0].Contains("%00", StringComparison.Ordinal))
        {
            // Kestrel refuses a NUL in the path itself, before any middleware runs, so no ProblemDetails can be written.
        }
        else if (status >= 400 && (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || !IsProblem(text, status)))
        {
            failures.Add($"{what}: {status} without ProblemDetails: {Shorten(text)}");
        }
    }

    private static bool IsProblem(string text, int status)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            return json.RootElement.TryGetProperty("status", out var s) && s.GetInt32() == status && json.RootElement.TryGetProperty("title", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed record EndpointInfo(string Method, string Route, string SamplePath, IReadOnlyList<string> Parameters, IReadOnlyList<string> RouteParameters)
    {
        public string Key => $"{Method} {Route}";
    }

    /// <summary>The app's REST endpoints (not the hub's), each with its parameters and the matrix row's sample path.</summary>
    private List<EndpointInfo> Endpoints()
    {
        var services = fleet.Host.Services.GetRequiredService<IServiceProviderIsService>();
        var plumbing = new HashSet<Type> { typeof(HttpContext), typeof(HttpRequest), typeof(HttpResponse), typeof(ClaimsPrincipal), typeof(CancellationToken) };
        var found = new List<EndpointInfo>();
        foreach (var endpoint in fleet.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<HubMetadata>() is not null)
            {
                continue;
            }

            var route = AccessMatrix.Normalize(endpoint.RoutePattern.RawText ?? "");
            var routeParameters = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToList();
            var parameters = new List<string>(routeParameters);
            if (endpoint.Metadata.GetMetadata<MethodInfo>() is { } handler)
            {
                parameters.AddRange(handler.GetParameters()
                    .Where(p => !plumbing.Contains(p.ParameterType) && !services.IsService(p.ParameterType))
                    .Select(p => p.Name!)
                    .Where(name => !routeParameters.Contains(name)));
            }

            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                var key = $"{method} {route}";
                var row = AccessMatrix.Rows.OfType<RestRow>().SingleOrDefault(r => r.Key == key)
                    ?? throw new InvalidOperationException($"{key} has no matrix row (see AccessMatrixTests' coverage test).");
                found.Add(new EndpointInfo(method, route, fleet.Resolve(row.Path ?? row.Route), parameters, routeParameters));
            }
        }

        return found;
    }

    private static string WithRouteValue(string route, string parameter, string value) =>
        route.Replace("{" + parameter + "}", value, StringComparison.Ordinal);

    private static string Query(string path) => path.Contains('?', StringComparison.Ordinal) ? path[path.IndexOf('?', StringComparison.Ordinal)..] : "";

    private static string AddQuery(string path, string name, string value) =>
        path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + name + "=" + value;

    private static string Shorten(string text) => text.Length > 160 ? text[..160] + "…" : text;
}
