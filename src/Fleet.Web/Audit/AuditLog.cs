using System.Net;
using System.Text.Json;
using Fleet.Web.Auth;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Web.Audit;

/// <summary>Who acted: a user, an API token (no user id, named token#id), or an anonymous caller (a failed login).</summary>
public sealed record AuditActor(int? UserId, string? Name, string? Role, int? DepartmentId, IPAddress? ClientIp)
{
    /// <summary>The signed-in user (or token) of the request, with the client's address.</summary>
    public static AuditActor Of(HttpContext http) =>
        UserScope.FromPrincipal(http.User) is { } scope
            ? new AuditActor(scope.UserId > 0 ? scope.UserId : null, scope.Username, scope.Role, scope.DepartmentId, ClientAddress(http))
            : Anonymous(http, http.User.Identity?.Name);

    /// <summary>A caller who is not signed in; <paramref name="name"/> is what they gave as their name, if anything.</summary>
    public static AuditActor Anonymous(HttpContext http, string? name) => new(null, name, null, null, ClientAddress(http));

    /// <summary>A user known by their account (a login that just succeeded).</summary>
    public static AuditActor User(HttpContext http, int userId, string username, string role, int? departmentId) =>
        new(userId, username, role, departmentId, ClientAddress(http));

    // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; store the plain IPv4 address.
    private static IPAddress? ClientAddress(HttpContext http) =>
        http.Connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : http.Connection.RemoteIpAddress;
}

/// <summary>One entry to append. <paramref name="Details"/> becomes the jsonb object (camelCase names).</summary>
public sealed record AuditEntry(
    AuditActor Actor,
    string Action,
    string? TargetType = null,
    string? TargetId = null,
    IReadOnlyDictionary<string, object?>? Details = null);

/// <summary>
/// Appends to <c>audit_log</c>. A change and its entry go in the same transaction (the overload taking one), so there
/// is never a change without its entry nor an entry for a change that rolled back. Events that change nothing of their
/// own (a failed login) are written on their own. A failed write fails the request: an action that cannot be audited
/// is not done silently.
/// </summary>
public sealed partial class AuditLog(NpgsqlDataSource db, TimeProvider time, ILogger<AuditLog> logger)
{
    private const string InsertSql =
        """
        INSERT INTO audit_log (at, actor_user_id, actor_name, actor_role, department_id, action, target_type, target_id, details, client_ip)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """;

    private static readonly JsonSerializerOptions DetailsJson = new(JsonSerializerDefaults.Web);

    /// <summary>Appends <paramref name="entry"/> on its own connection.</summary>
    public async Task WriteAsync(AuditEntry entry, CancellationToken ct)
    {
        await using var command = db.CreateCommand(InsertSql);
        AddParameters(command, entry);
        await command.ExecuteNonQueryAsync(ct);
        LogWritten(logger, entry.Action, entry.Actor.Name, entry.TargetType, entry.TargetId);
    }

    /// <summary>Appends <paramref name="entry"/> inside <paramref name="transaction"/>: it commits or rolls back with the change.</summary>
    public async Task WriteAsync(NpgsqlTransaction transaction, AuditEntry entry, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(InsertSql, transaction.Connection, transaction);
        AddParameters(command, entry);
        await command.ExecuteNonQueryAsync(ct);
        LogWritten(logger, entry.Action, entry.Actor.Name, entry.TargetType, entry.TargetId);
    }

    private void AddParameters(NpgsqlCommand command, AuditEntry entry)
    {
        var actor = entry.Actor;
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow().ToUniversalTime() });
        command.Parameters.Add(Typed(NpgsqlDbType.Integer, actor.UserId));
        command.Parameters.Add(Typed(NpgsqlDbType.Text, Cut(actor.Name, 128)));
        command.Parameters.Add(Typed(NpgsqlDbType.Text, actor.Role));
        command.Parameters.Add(Typed(NpgsqlDbType.Integer, actor.DepartmentId));
        command.Parameters.Add(new NpgsqlParameter { Value = entry.Action });
        command.Parameters.Add(Typed(NpgsqlDbType.Text, entry.TargetType));
        command.Parameters.Add(Typed(NpgsqlDbType.Text, Cut(entry.TargetId, 128)));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = JsonSerializer.Serialize(entry.Details ?? new Dictionary<string, object?>(), DetailsJson) });
        command.Parameters.Add(Typed(NpgsqlDbType.Inet, actor.ClientIp));
    }

    private static NpgsqlParameter Typed(NpgsqlDbType type, object? value) => new() { NpgsqlDbType = type, Value = value ?? DBNull.Value };

    // A name typed at a failed login is whatever the caller sent; keep the entry within the column's bound.
    private static string? Cut(string? value, int max) => value is { Length: var length } && length > max ? value[..max] : value;

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit: {Action} by {Actor} on {TargetType} {TargetId}")]
    private static partial void LogWritten(ILogger logger, string action, string? actor, string? targetType, string? targetId);
}
