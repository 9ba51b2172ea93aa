using System.Globalization;
using Fleet.Web.Api;
using Fleet.Web.Audit;
using Fleet.Web.Auth;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Web.Admin;

/// <summary>An API token as the list shows it: never the secret, only its first characters.</summary>
public sealed record ApiTokenItem(
    int Id,
    string Name,
    string Prefix,
    string Role,
    int? DepartmentId,
    string? DepartmentName,
    bool CanWrite,
    string? CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt,
    string State);

/// <summary>The answer to creating a token: the only time its secret is shown.</summary>
public sealed record ApiTokenSecret(ApiTokenItem Token, string Secret);

/// <summary>
/// <c>/api/admin/tokens</c>: administrators issue bearer tokens for integrations, scoped to a role and (for
/// department-bound roles) a department, read-only unless granted write, expiring after 1 to 366 days; and revoke them.
/// Cookie sessions only. Audited in the same transaction.
/// </summary>
public static partial class ApiTokensApi
{
    public const int MaxDays = 366;
    public const int DefaultDays = 90;

    private const string Columns =
        "t.id, t.name, t.token_prefix, t.role, t.department_id, d.name, t.can_write, u.username, t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

    private const string From = "api_tokens t LEFT JOIN departments d ON d.id = t.department_id LEFT JOIN users u ON u.id = t.created_by";

    private static readonly string[] CreateFields = ["name", "role", "departmentId", "canWrite", "expiresInDays"];

    public static IEndpointRouteBuilder MapApiTokensApi(this IEndpointRouteBuilder endpoints)
    {
        var tokens = endpoints.MapGroup("/api/admin/tokens").RequireAuthorization(UsersAdminApi.RequireAdminSession);
        tokens.MapGet("/", ListAsync);
        tokens.MapPost("/", CreateAsync);
        tokens.MapDelete("/{id}", RevokeAsync);
        return endpoints;
    }

    private static async Task<IResult> ListAsync(NpgsqlDataSource db, TimeProvider time, string? page, string? pageSize, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var paging = errors.Paging(page, pageSize);
        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var filter = new SqlFilter();
        var now = time.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, "api_tokens t", ct);
        var items = new List<ApiTokenItem>();
        await using (var select = filter.PageCommand(connection, $"SELECT {Columns} FROM {From}", "t.id DESC", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                items.Add(ReadItem(reader, now));
            }
        }

        return TypedResults.Ok(new PagedResult<ApiTokenItem>(items, paging.Page, paging.PageSize, total));
    }

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, AuditLog audit, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var errors = new FieldErrors();
        if (await JsonBody.ReadAsync(http.Request, errors, CreateFields, ct) is not { } body)
        {
            return Problems.Validation(errors.Errors);
        }

        var name = body.String("name", 100);
        if (string.IsNullOrEmpty(name) && !errors.Errors.ContainsKey("name"))
        {
            errors.Add("name", "Required: what the token is for, e.g. the integration's name.");
        }

        var role = UsersAdminApi.RequiredRole(body, errors);

        var departmentId = body.Integer("departmentId", 1, int.MaxValue);
        var canWrite = body.Boolean("canWrite") ?? false;
        var days = body.Integer("expiresInDays", 1, MaxDays) ?? DefaultDays;
        UsersAdminApi.RequireDepartmentFor(role, departmentId, errors);

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var secret = ApiTokenAuthentication.NewToken();
        var now = time.GetUtcNow().ToUniversalTime();
        var actor = AuditActor.Of(http);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        int id;
        try
        {
            await using var insert = new NpgsqlCommand(
                """
                INSERT INTO api_tokens (name, token_hash, token_prefix, role, department_id, can_write, created_by, created_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                RETURNING id
                """,
                connection,
                transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = name! });
            insert.Parameters.Add(new NpgsqlParameter { Value = ApiTokenAuthentication.Hash(secret) });
            insert.Parameters.Add(new NpgsqlParameter { Value = secret[..12] });
            insert.Parameters.Add(new NpgsqlParameter { Value = role! });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = departmentId is { } d ? d : DBNull.Value });
            insert.Parameters.Add(new NpgsqlParameter { Value = canWrite });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = actor.UserId is { } u ? u : DBNull.Value });
            insert.Parameters.Add(new NpgsqlParameter { Value = now });
            insert.Parameters.Add(new NpgsqlParameter { Value = now.AddDays(days) });
            id = (int)(await insert.ExecuteScalarAsync(ct))!;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.ForeignKeyViolation)
        {
            return Problems.Validation("departmentId", "No department has this id.");
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(actor, AuditActions.ApiTokenCreated, AuditTargets.ApiToken, Text(id), new Dictionary<string, object?>
            {
                ["name"] = name,
                ["role"] = role,
                ["departmentId"] = departmentId,
                ["canWrite"] = canWrite,
                ["expiresAt"] = now.AddDays(days),
            }),
            ct);
        var item = await FindAsync(connection, transaction, id, now, ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(ApiTokensApi));
        LogCreated(logger, id, role!, canWrite, http.User.Identity?.Name);
        // The secret must not stay in a browser's or a proxy's cache.
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"/api/admin/tokens/{id}", new ApiTokenSecret(item!, secret));
    }

    private static async Task<IResult> RevokeAsync(string id, HttpContext http, NpgsqlDataSource db, AuditLog audit, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var tokenId) || tokenId < 1)
        {
            return TokenNotFound(id);
        }

        var actor = AuditActor.Of(http);
        var now = time.GetUtcNow().ToUniversalTime();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        string? name;
        await using (var revoke = new NpgsqlCommand(
            "UPDATE api_tokens SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING name",
            connection,
            transaction))
        {
            revoke.Parameters.Add(new NpgsqlParameter { Value = tokenId });
            revoke.Parameters.Add(new NpgsqlParameter { Value = now });
            revoke.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = actor.UserId is { } u ? u : DBNull.Value });
            name = (string?)await revoke.ExecuteScalarAsync(ct);
        }

        if (name is null)
        {
            // Revoking twice is no error, and is not audited twice; an unknown id is a 404.
            return await FindAsync(connection, transaction, tokenId, now, ct) is null ? TokenNotFound(id) : TypedResults.NoContent();
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(actor, AuditActions.ApiTokenRevoked, AuditTargets.ApiToken, Text(tokenId), new Dictionary<string, object?> { ["name"] = name }),
            ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(ApiTokensApi));
        LogRevoked(logger, tokenId, http.User.Identity?.Name);
        return TypedResults.NoContent();
    }

    private static async Task<ApiTokenItem?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int id, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM {From} WHERE t.id = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadItem(reader, now) : null;
    }

    private static ApiTokenItem ReadItem(NpgsqlDataReader reader, DateTimeOffset now)
    {
        var expiresAt = reader.GetFieldValue<DateTimeOffset>(9);
        DateTimeOffset? revokedAt = reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10);
        return new ApiTokenItem(
            reader.GetInt32(0),
            reader.GetString(1),
            reader.GetString(2),
            reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.GetBoolean(6),
            reader.IsDBNull(7) ? null : reader.GetString(7),
            reader.GetFieldValue<DateTimeOffset>(8),
            expiresAt,
            revokedAt,
            reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
            revokedAt is not null ? "revoked" : expiresAt <= now ? "expired" : "active");
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static IResult TokenNotFound(string id) => Problems.NotFound($"No API token has the id '{id}'.");

    [LoggerMessage(Level = LogLevel.Information, Message = "API token {TokenId} ({Role}, write {CanWrite}) created by {Admin}")]
    private static partial void LogCreated(ILogger logger, int tokenId, string role, bool canWrite, string? admin);

    [LoggerMessage(Level = LogLevel.Information, Message = "API token {TokenId} revoked by {Admin}")]
    private static partial void LogRevoked(ILogger logger, int tokenId, string? admin);
}
