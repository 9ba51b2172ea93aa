namespace Fleet.Web.Tests;

/// <summary>Folders of the source tree the tests need, found by walking up from the test binaries.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> RepositoryRoot = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Fleet.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Fleet.sln above {AppContext.BaseDirectory}: the tests run from the repository's build output.");
    });

    public static string Root => RepositoryRoot.Value;

    /// <summary>src/Fleet.Web/wwwroot: index.html and the bundle in dist/ that building Fleet.Web writes.</summary>
    public static string WebRoot => Path.Combine(Root, "src", "Fleet.Web", "wwwroot");

    /// <summary>TestResults/screenshots under the repository (git-ignored).</summary>
    public static string Screenshots => Directory.CreateDirectory(Path.Combine(Root, "TestResults", "screenshots")).FullName;
}
