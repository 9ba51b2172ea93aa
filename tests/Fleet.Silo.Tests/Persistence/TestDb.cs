using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

internal static class TestDb
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh database of its own with every migration applied.</summary>
    public static async Task<NpgsqlDataSource> CreateMigratedAsync(PostgresFixture postgres)
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);
        return db;
    }

    public static async Task<List<string>> QueryStringsAsync(NpgsqlDataSource db, string sql, params object[] parameters)
    {
        var values = new List<string>();
        await using var command = Command(db, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql, params object[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        var value = await command.ExecuteScalarAsync(Ct);
        return value is DBNull or null ? default! : (T)value;
    }

    public static async Task<int> ExecuteAsync(NpgsqlDataSource db, string sql, params object[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        return await command.ExecuteNonQueryAsync(Ct);
    }

    private static NpgsqlCommand Command(NpgsqlDataSource db, string sql, object[] parameters)
    {
        var command = db.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }
}
