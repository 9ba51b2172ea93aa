using System.Text.Json;
using Fleet.Web.Api;
using Fleet.Web.Auth;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Fleet.Web.Audit;

/// <summary>An audit entry as <c>GET /api/audit</c> returns it.</summary>
public sealed record AuditItem(
    long Id,
    DateTimeOffset At,
    int? ActorUserId,
    string? ActorName,
    string? ActorRole,
    int? DepartmentId,
    string Action,
    string? TargetType,
    string? TargetId,
    JsonElement Details,
    string? ClientIp);

/// <summary>One action name, and whether anything in the platform records it yet.</summary>
public sealed record AuditActionItem(string Name, bool Recorded);

/// <summary>
/// <c>GET /api/audit</c> (filtered, paged, newest first) and <c>GET /api/audit/actions</c>, for supervisors and
/// administrators. The log is not department data: whoever may read it reads all of it.
/// </summary>
public static class AuditApi
{
    private const string Columns = "id, at, actor_user_id, actor_name, actor_role, department_id, action, target_type, target_id, details::text, host(client_ip)";

    public static IServiceCollection AddFleetAudit(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<AuditLog>();
        return services;
    }

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        var audit = endpoints.MapGroup("/api/audit")
            .RequireAuthorization(policy => policy.RequireAuthenticatedUser().RequireRole(FleetRoles.Admin, FleetRoles.Supervisor));
        audit.MapGet("/", ListAsync);
        audit.MapGet("/actions", () => TypedResults.Ok(AuditActions.All.Select(a => new AuditActionItem(a, AuditActions.Recorded.Contains(a))).ToList()));
        return endpoints;
    }

    private static async Task<IResult> ListAsync(
        NpgsqlDataSource db,
        string? action,
        string? actorId,
        string? actor,
        string? targetType,
        string? targetId,
        string? from,
        string? to,
        string? page,
        string? pageSize,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var filter = new SqlFilter();
        if (!string.IsNullOrEmpty(action))
        {
            if (AuditActions.All.Contains(action, StringComparer.Ordinal))
            {
                filter.Add($"action = {filter.Bind(action)}");
            }
            else
            {
                errors.Add("action", "Unknown action; GET /api/audit/actions lists them.");
            }
        }

        if (errors.OptionalId("actorId", actorId) is { } actorUser)
        {
            filter.Add($"actor_user_id = {filter.Bind(actorUser)}");
        }

        if (errors.Text("actor", actor, 128) is { } actorName)
        {
            // Usernames are stored lower case; the typed name of a failed login as it was typed.
            filter.Add($"(actor_name = {filter.Bind(actorName)} OR actor_name = {filter.Bind(actorName.ToLowerInvariant())})");
        }

        if (!string.IsNullOrEmpty(targetType))
        {
            if (AuditTargets.All.Contains(targetType, StringComparer.Ordinal))
            {
                filter.Add($"target_type = {filter.Bind(targetType)}");
            }
            else
            {
                errors.Add("targetType", $"Must be one of: {string.Join(", ", AuditTargets.All)}.");
            }
        }

        if (errors.Text("targetId", targetId, 128) is { } target)
        {
            filter.Add($"target_id = {filter.Bind(target)}");
        }

        var fromTime = errors.Time("from", from);
        var toTime = errors.Time("to", to);
        if (fromTime is { } f && toTime is { } t && t < f)
        {
            errors.Add("to", "Must not be before from.");
        }

        var paging = errors.Paging(page, pageSize);
        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        filter.AddTimeRange("at", fromTime, toTime);

        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, "audit_log", ct);
        var items = new List<AuditItem>(Math.Min(paging.PageSize, 64));
        await using (var select = filter.PageCommand(connection, $"SELECT {Columns} FROM audit_log", "at DESC, id DESC", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                using var details = JsonDocument.Parse(reader.GetString(9));
                items.Add(new AuditItem(
                    reader.GetInt64(0),
                    reader.GetFieldValue<DateTimeOffset>(1),
                    reader.IsDBNull(2) ? null : reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetInt32(5),
                    reader.GetString(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8),
                    details.RootElement.Clone(),
                    reader.IsDBNull(10) ? null : reader.GetString(10)));
            }
        }

        return TypedResults.Ok(new PagedResult<AuditItem>(items, paging.Page, paging.PageSize, total));
    }
}
