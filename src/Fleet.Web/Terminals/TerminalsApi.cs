using System.Globalization;
using Fleet.Core.Security;
using Fleet.Gateway.Broker;
using Fleet.Web.Api;
using Fleet.Web.Audit;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Web.Terminals;

/// <summary>
/// <c>/api/terminals</c>: the administration of GPS/OBD terminals, for the admin role only (a policy on the group: no
/// other role may see or change broker credentials). Terminals are not department data, so no <see cref="UserScope"/>
/// filter applies. Every change is a write to the terminals table; its trigger (migration 0003) makes the broker sync
/// rewrite Mosquitto's files and reload them, so a new, disabled or re-keyed terminal takes effect within about a
/// second, without a broker restart. Passwords are generated here, shown once, and stored only as Mosquitto hashes.
/// </summary>
public static partial class TerminalsApi
{
    // PostgreSQL's default constraint names for migration 0001's terminals table.
    private const string PrimaryKey = "terminals_pkey";
    private const string IdCheck = "terminals_id_check";

    private const string ItemColumns = "t.id, t.vehicle_id, v.plate, t.enabled, t.created_at, t.updated_at";

    public static IEndpointRouteBuilder MapTerminalsApi(this IEndpointRouteBuilder endpoints)
    {
        var terminals = endpoints.MapGroup("/api/terminals")
            .RequireAuthorization(policy => policy.RequireAuthenticatedUser().RequireRole(FleetRoles.Admin));
        terminals.MapGet("/", ListAsync);
        terminals.MapGet("/{id}", GetAsync);
        terminals.MapPost("/", CreateAsync);
        terminals.MapPatch("/{id}", ChangeAsync);
        terminals.MapPost("/{id}/credential", RotateAsync);
        return endpoints;
    }

    private static async Task<IResult> ListAsync(
        NpgsqlDataSource db,
        string? vehicleId,
        string? enabled,
        string? page,
        string? pageSize,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var paging = errors.Paging(page, pageSize);
        var filter = new SqlFilter();
        if (!string.IsNullOrEmpty(vehicleId))
        {
            if (long.TryParse(vehicleId, NumberStyles.None, CultureInfo.InvariantCulture, out var vehicle) && vehicle >= 1)
            {
                filter.Add($"t.vehicle_id = {filter.Bind(vehicle)}");
            }
            else
            {
                errors.Add("vehicleId", "Must be a positive whole number.");
            }
        }

        if (!string.IsNullOrEmpty(enabled))
        {
            if (bool.TryParse(enabled, out var isEnabled))
            {
                filter.Add($"t.enabled = {filter.Bind(isEnabled)}");
            }
            else
            {
                errors.Add("enabled", "Must be true or false.");
            }
        }

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, "terminals t", ct);

        var items = new List<TerminalItem>(Math.Min(paging.PageSize, 64));
        await using (var select = filter.PageCommand(connection, $"SELECT {ItemColumns} FROM terminals t LEFT JOIN vehicles v ON v.id = t.vehicle_id", "t.id", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                items.Add(ReadItem(reader));
            }
        }

        return TypedResults.Ok(new PagedResult<TerminalItem>(items, paging.Page, paging.PageSize, total));
    }

    private static async Task<IResult> GetAsync(string id, NpgsqlDataSource db, CancellationToken ct) =>
        await FindAsync(db, id, ct) is { } terminal ? TypedResults.Ok(terminal) : TerminalNotFound(id);

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, IOptions<BrokerOptions> broker, AuditLog audit, ILoggerFactory loggers, CancellationToken ct)
    {
        var errors = new FieldErrors();
        if (await TerminalRequests.ReadNewAsync(http.Request, broker.Value, errors, ct) is not { } request)
        {
            return Problems.Validation(errors.Errors);
        }

        var password = TerminalRules.NewPassword();
        // The change and its audit entry commit together.
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand("INSERT INTO terminals (id, vehicle_id, credential_hash) VALUES ($1, $2, $3) RETURNING enabled", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = request.Id });
        command.Parameters.Add(VehicleParameter(request.VehicleId));
        command.Parameters.Add(new NpgsqlParameter { Value = MosquittoPasswordHash.Create(password) });
        bool isEnabled;
        try
        {
            isEnabled = (bool)(await command.ExecuteScalarAsync(ct))!;
        }
        catch (PostgresException ex) when (IsConstraintViolation(ex))
        {
            return ConstraintProblem(ex, request.Id, request.VehicleId);
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(AuditActor.Of(http), AuditActions.TerminalCreated, AuditTargets.Terminal, request.Id, new Dictionary<string, object?> { ["vehicleId"] = request.VehicleId }),
            ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(TerminalsApi));
        LogCreated(logger, request.Id, request.VehicleId, http.User.Identity?.Name);
        NoStore(http);
        return TypedResults.Created($"/api/terminals/{request.Id}", new TerminalCredential(request.Id, request.VehicleId, isEnabled, password));
    }

    private static async Task<IResult> ChangeAsync(string id, HttpContext http, NpgsqlDataSource db, AuditLog audit, ILoggerFactory loggers, CancellationToken ct)
    {
        var errors = new FieldErrors();
        if (await TerminalRequests.ReadChangeAsync(http.Request, errors, ct) is not { } change)
        {
            return Problems.Validation(errors.Errors);
        }

        // The row is locked first so the audit entries compare against what was really replaced.
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        (bool Enabled, long? VehicleId)? before = null;
        await using (var current = new NpgsqlCommand("SELECT enabled, vehicle_id FROM terminals WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            current.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var row = await current.ExecuteReaderAsync(ct);
            if (await row.ReadAsync(ct))
            {
                before = (row.GetBoolean(0), row.IsDBNull(1) ? null : row.GetInt64(1));
            }
        }

        // Only a real change is written: a no-op PATCH keeps updated_at, and the returned row says what is in force.
        await using var command = new NpgsqlCommand(
            $"""
            WITH t AS (
                UPDATE terminals
                SET enabled = CASE WHEN $2 THEN $3 ELSE enabled END,
                    vehicle_id = CASE WHEN $4 THEN $5 ELSE vehicle_id END
                WHERE id = $1 AND (($2 AND enabled IS DISTINCT FROM $3) OR ($4 AND vehicle_id IS DISTINCT FROM $5))
                RETURNING *)
            SELECT {ItemColumns} FROM t LEFT JOIN vehicles v ON v.id = t.vehicle_id
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = change.Enabled.HasValue });
        command.Parameters.Add(new NpgsqlParameter { Value = change.Enabled ?? false });
        command.Parameters.Add(new NpgsqlParameter { Value = change.SetsVehicle });
        command.Parameters.Add(VehicleParameter(change.VehicleId));
        TerminalItem? changed = null;
        try
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                changed = ReadItem(reader);
            }
        }
        catch (PostgresException ex) when (IsConstraintViolation(ex))
        {
            return ConstraintProblem(ex, id, change.VehicleId);
        }

        if (changed is null || before is not { } old)
        {
            await transaction.RollbackAsync(ct);
            return await FindAsync(db, id, ct) is { } unchanged ? TypedResults.Ok(unchanged) : TerminalNotFound(id);
        }

        var actor = AuditActor.Of(http);
        if (changed.Enabled != old.Enabled)
        {
            await audit.WriteAsync(
                transaction,
                new AuditEntry(actor, changed.Enabled ? AuditActions.TerminalEnabled : AuditActions.TerminalDisabled, AuditTargets.Terminal, id, new Dictionary<string, object?> { ["vehicleId"] = changed.VehicleId }),
                ct);
        }

        if (changed.VehicleId != old.VehicleId)
        {
            await audit.WriteAsync(
                transaction,
                new AuditEntry(actor, AuditActions.TerminalRebound, AuditTargets.Terminal, id, new Dictionary<string, object?> { ["from"] = old.VehicleId, ["to"] = changed.VehicleId }),
                ct);
        }

        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(TerminalsApi));
        LogChanged(logger, id, changed.Enabled, changed.VehicleId, http.User.Identity?.Name);
        return TypedResults.Ok(changed);
    }

    private static async Task<IResult> RotateAsync(string id, HttpContext http, NpgsqlDataSource db, AuditLog audit, ILoggerFactory loggers, CancellationToken ct)
    {
        var password = TerminalRules.NewPassword();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        TerminalCredential rotated;
        await using (var command = new NpgsqlCommand("UPDATE terminals SET credential_hash = $2 WHERE id = $1 RETURNING vehicle_id, enabled", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            command.Parameters.Add(new NpgsqlParameter { Value = MosquittoPasswordHash.Create(password) });
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return TerminalNotFound(id);
            }

            rotated = new TerminalCredential(id, reader.IsDBNull(0) ? null : reader.GetInt64(0), reader.GetBoolean(1), password);
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(AuditActor.Of(http), AuditActions.TerminalCredentialRotated, AuditTargets.Terminal, id, new Dictionary<string, object?> { ["vehicleId"] = rotated.VehicleId }),
            ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(TerminalsApi));
        LogRotated(logger, id, http.User.Identity?.Name);
        NoStore(http);
        return TypedResults.Ok(rotated);
    }

    private static async Task<TerminalItem?> FindAsync(NpgsqlDataSource db, string id, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"SELECT {ItemColumns} FROM terminals t LEFT JOIN vehicles v ON v.id = t.vehicle_id WHERE t.id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadItem(reader) : null;
    }

    private static TerminalItem ReadItem(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.IsDBNull(1) ? null : reader.GetInt64(1),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        reader.GetBoolean(3),
        reader.GetFieldValue<DateTimeOffset>(4),
        reader.GetFieldValue<DateTimeOffset>(5));

    // Typed: a null is otherwise sent untyped, and PostgreSQL cannot infer it inside CASE.
    private static NpgsqlParameter VehicleParameter(long? vehicleId) =>
        new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = vehicleId is { } id ? id : DBNull.Value };

    // The database decides duplicates and bindings, so two admins racing cannot both win.
    private static bool IsConstraintViolation(PostgresException ex) =>
        ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.CheckViolation;

    private static IResult ConstraintProblem(PostgresException ex, string id, long? vehicleId) => ex switch
    {
        { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: PrimaryKey } =>
            Conflict("终端编号已存在", $"A terminal with id '{id}' already exists.", "id"),
        { SqlState: PostgresErrorCodes.UniqueViolation } =>
            Conflict("该车辆已绑定终端", string.Create(CultureInfo.InvariantCulture, $"Vehicle {vehicleId} already has a terminal; unbind it first (PATCH /api/terminals/{{id}} with \"vehicleId\": null)."), "vehicleId"),
        { SqlState: PostgresErrorCodes.ForeignKeyViolation } => Problems.Validation("vehicleId", "No vehicle has this id."),
        { ConstraintName: IdCheck } => Problems.Validation("id", TerminalRules.IdRule),
        _ => Problems.Validation("body", "The values break a rule of the terminals table."),
    };

    private static ProblemHttpResult Conflict(string title, string detail, string field) => TypedResults.Problem(
        detail,
        statusCode: StatusCodes.Status409Conflict,
        title: title,
        extensions: new Dictionary<string, object?> { ["field"] = field });

    private static IResult TerminalNotFound(string id) => Problems.NotFound($"No terminal has the id '{id}'.");

    // A password in a response must not stay in a browser's or a proxy's cache.
    private static void NoStore(HttpContext http) => http.Response.Headers.CacheControl = "no-store";

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal {TerminalId} created for vehicle {VehicleId} by {Username}")]
    private static partial void LogCreated(ILogger logger, string terminalId, long? vehicleId, string? username);

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal {TerminalId} changed by {Username}: enabled {Enabled}, vehicle {VehicleId}")]
    private static partial void LogChanged(ILogger logger, string terminalId, bool enabled, long? vehicleId, string? username);

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal {TerminalId} credential rotated by {Username}")]
    private static partial void LogRotated(ILogger logger, string terminalId, string? username);
}
