using Fleet.Web.Api;
using Fleet.Web.Auth;
using Npgsql;

namespace Fleet.Web.Telemetry;

/// <summary>A refused report. The payload head is given twice: exact (base64) and readable (escaped text).</summary>
public sealed record TelemetryReject(
    long Id,
    string TerminalId,
    DateTimeOffset ReceivedAt,
    string Reason,
    string? Field,
    string? PayloadBase64,
    string? PayloadText);

/// <summary><c>GET /api/telemetry/rejects</c>: the gateway's record of refused reports, newest first.</summary>
public static class TelemetryApi
{
    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGroup("/api/telemetry").RequireAuthorization(FleetPolicies.TelemetryRejects)
            .MapGet("/rejects", RejectsAsync);
        return endpoints;
    }

    private static async Task<IResult> RejectsAsync(
        NpgsqlDataSource db,
        string? terminalId,
        string? from,
        string? to,
        string? page,
        string? pageSize,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var terminal = errors.Text("terminalId", terminalId, 64);
        var fromTime = errors.Time("from", from);
        var toTime = errors.Time("to", to);
        var paging = errors.Paging(page, pageSize);
        if (fromTime is { } f && toTime is { } t && t < f)
        {
            errors.Add("to", "Must not be before from.");
        }

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        // Terminals are not department data (rejects include unknown terminals), so only the role policy applies.
        var filter = new SqlFilter();
        if (terminal is not null)
        {
            filter.Add($"terminal_id = {filter.Bind(terminal)}");
        }

        filter.AddTimeRange("received_at", fromTime, toTime);

        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, "telemetry_rejects", ct);

        var items = new List<TelemetryReject>();
        await using (var select = filter.PageCommand(connection, "SELECT id, terminal_id, received_at, reason, field, payload_head FROM telemetry_rejects", "received_at DESC, id DESC", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var payload = reader.IsDBNull(5) ? null : reader.GetFieldValue<byte[]>(5);
                items.Add(new TelemetryReject(
                    reader.GetInt64(0),
                    reader.GetString(1),
                    reader.GetFieldValue<DateTimeOffset>(2),
                    reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    payload is null ? null : Convert.ToBase64String(payload),
                    payload is null ? null : PayloadText.Escape(payload)));
            }
        }

        return TypedResults.Ok(new PagedResult<TelemetryReject>(items, paging.Page, paging.PageSize, total));
    }
}
