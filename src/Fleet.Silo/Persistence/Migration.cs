using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Fleet.Silo.Persistence;

/// <summary>One versioned SQL migration, named <c>NNNN_name.sql</c>.</summary>
public sealed partial record Migration
{
    private const string ResourcePrefix = "Fleet.Silo.Migrations.";

    private Migration(int version, string name, string fileName, string sql, string checksum)
    {
        Version = version;
        Name = name;
        FileName = fileName;
        Sql = sql;
        Checksum = checksum;
    }

    public int Version { get; }

    public string Name { get; }

    public string FileName { get; }

    public string Sql { get; }

    /// <summary>SHA-256 of the script with line endings normalised, so a checkout with CRLF does not look edited.</summary>
    public string Checksum { get; }

    public static Migration FromScript(string fileName, string sql)
    {
        var match = FileNamePattern().Match(fileName);
        if (!match.Success)
        {
            throw new ArgumentException($"Migration file '{fileName}' is not named NNNN_name.sql", nameof(fileName));
        }

        var version = int.Parse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
        var normalised = sql.ReplaceLineEndings("\n");
        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
        return new Migration(version, match.Groups["name"].Value, fileName, sql, checksum);
    }

    /// <summary>The migrations embedded in Fleet.Silo (Persistence/Migrations/*.sql), in version order.</summary>
    public static IReadOnlyList<Migration> LoadEmbedded()
    {
        var assembly = typeof(Migration).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            migrations.Add(FromScript(resource[ResourcePrefix.Length..], ReadResource(assembly, resource)));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        return migrations;
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded migration {resource} cannot be read");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"^(?<version>[0-9]{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();
}
